"""Reads of the gateway's own database, for its page and its API."""

from __future__ import annotations

from typing import Any

from agency_common.listing import Page, Sorting, page
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments.gateway.models import LicenseLookup, Submission

S = Submission
SUBMISSION_SORTING = Sorting({
    "received_at": [S.received_at], "batch_id": [S.batch_id], "kind": [S.kind], "npn": [S.npn], "state": [S.state],
    "cocode": [S.cocode], "status": [S.status], "attempts": [S.attempts], "outcome": [S.outcome],
    "answered_at": [S.answered_at]}, default="received_at", unique=S.idempotency_key)


async def home_view(session: AsyncSession, sort: str = "-received_at", offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """Submissions counted by outcome (or status while unanswered), a page of them (the newest 50
    first unless asked otherwise) and the last 20 license lookups."""
    counts = dict((await session.execute(
        select(func.coalesce(S.outcome, S.status), func.count())
        .group_by(func.coalesce(S.outcome, S.status)))).all())
    recent = await page(session, select(S), SUBMISSION_SORTING, sort, offset, limit)
    lookups = (await session.execute(
        select(LicenseLookup).order_by(LicenseLookup.fetched_at.desc()).limit(20))).scalars().all()
    return {"counts": counts, "recent": recent.items, "page": recent, "lookups": lookups}


async def submissions(session: AsyncSession, batch_id: str | None, offset: int = 0, limit: int = 1000,
                      sort: str = "received_at") -> Page:
    """One page of submissions, of one batch or all, in the order received unless sorted otherwise."""
    stmt = select(S)
    if batch_id:
        stmt = stmt.where(S.batch_id == batch_id)
    return await page(session, stmt, SUBMISSION_SORTING, sort, offset, limit, {"batch_id": batch_id or ""})
