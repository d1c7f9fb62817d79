"""Reads of batches shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agency_common.listing import Page, Sorting, page
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.batches.filters import TransactionFilter
from appointments.batches.usecases import batch_summary

B = m.TransactionBatch
BATCH_SORTING = Sorting({"created_at": [B.created_at], "cocode": [B.cocode], "kind": [B.kind], "source": [B.source],
                         "status": [B.status], "created_by": [B.created_by], "submitted_at": [B.submitted_at]},
                        default="-created_at", unique=B.id)


async def batches_page(session: AsyncSession, offset: int, limit: int, sort: str = "-created_at") -> Page:
    """One page of batches, the newest first unless sorted otherwise."""
    return await page(session, select(B), BATCH_SORTING, sort, offset, limit)


async def transaction_counts(session: AsyncSession, batch_ids: Sequence[str]) -> dict[str, int]:
    """How many transactions each of these batches holds."""
    if not batch_ids:
        return {}
    T = m.AppointmentTransaction
    return dict((await session.execute(select(T.batch_id, func.count()).where(
        T.batch_id.in_(batch_ids)).group_by(T.batch_id))).all())


async def batch_view(session: AsyncSession, batch_id: str) -> dict[str, Any] | None:
    """A batch with its summary and its transactions, or None."""
    batch = await session.get(m.TransactionBatch, batch_id)
    if batch is None:
        return None
    T = m.AppointmentTransaction
    rows = (await session.execute(select(T).where(T.batch_id == batch_id)
                                  .order_by(T.state, T.npn, T.line_of_authority))).scalars().all()
    summary = await batch_summary(session, batch_id)
    return batch.model_dump(mode="json") | summary | {
        "transactions": [r.model_dump(mode="json", exclude={"idempotency_key", "explanation"}) for r in rows]}


async def transaction_view(session: AsyncSession, transaction_id: str) -> dict[str, Any] | None:
    """One transaction with what decided it (``explanation``: a Not Eligible one's facts, None for one
    recorded before explanations were kept or not judged Not Eligible), or None."""
    t = await session.get(m.AppointmentTransaction, transaction_id)
    if t is None:
        return None
    return t.model_dump(mode="json", exclude={"idempotency_key"})


T = m.AppointmentTransaction
TRANSACTION_SORTING = Sorting({"created_at": [T.created_at], "npn": [T.npn], "state": [T.state], "cocode": [T.cocode],
                               "line_of_authority": [T.line_of_authority], "status": [T.status],
                               "batch_id": [T.batch_id]}, default="-created_at", unique=T.id)


async def transactions_page(session: AsyncSession, f: TransactionFilter, offset: int, limit: int,
                            sort: str = "-created_at") -> Page:
    """One page of the transactions the filter keeps (Ready or JIT Held unless it says otherwise), with the total."""
    return await page(session, select(T).where(*f.where()), TRANSACTION_SORTING, sort, offset, limit, f.query())
