"""The reconciliation header every page of a reconciliation shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.errors import NotFound
from invoicing.models import Reconciliation
from invoicing.reconciliations import status as rec_status


async def page_header(session: AsyncSession, rec_id: str) -> dict[str, Any]:
    rec = await session.get(Reconciliation, rec_id)
    if rec is None:
        raise NotFound("reconciliation not found")
    return rec_status.header(rec, await rec_status.totals(session, rec))
