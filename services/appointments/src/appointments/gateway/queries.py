"""Reads of the gateway's own database, for its page and its API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments.gateway.models import LicenseLookup, Submission


async def home_view(session: AsyncSession) -> dict[str, Any]:
    """Submissions counted by outcome (or status while unanswered), the newest 50 and the last 20 license lookups."""
    counts = dict((await session.execute(
        select(func.coalesce(Submission.outcome, Submission.status), func.count())
        .group_by(func.coalesce(Submission.outcome, Submission.status)))).all())
    recent = (await session.execute(
        select(Submission).order_by(Submission.received_at.desc()).limit(50))).scalars().all()
    lookups = (await session.execute(
        select(LicenseLookup).order_by(LicenseLookup.fetched_at.desc()).limit(20))).scalars().all()
    return {"counts": counts, "recent": recent, "lookups": lookups}


async def submissions(session: AsyncSession, batch_id: str | None, limit: int = 1000) -> Sequence[Submission]:
    """Submissions in the order received, of one batch or all."""
    stmt = select(Submission).order_by(Submission.received_at)
    if batch_id:
        stmt = stmt.where(Submission.batch_id == batch_id)
    return (await session.execute(stmt.limit(limit))).scalars().all()
