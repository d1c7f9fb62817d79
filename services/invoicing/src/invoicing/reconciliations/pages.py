"""The reconciliation header every page of a reconciliation shows."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

from invoicing.models import Reconciliation
from invoicing.reconciliations import status as rec_status


async def page_header(request: Request, rec_id: str) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as s:
        rec = await s.get(Reconciliation, rec_id)
        if rec is None:
            raise HTTPException(404, "reconciliation not found")
        return rec_status.header(rec, await rec_status.totals(s, rec))
