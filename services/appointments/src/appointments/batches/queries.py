"""Reads of batches shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agency_common.listing import Page, Sorting, page
from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.batches.filters import STATUSES, TransactionFilter
from appointments.batches.usecases import batch_summary
from appointments.errors import Invalid

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


async def batch_header(session: AsyncSession, batch_id: str) -> dict[str, Any] | None:
    """A batch with its summary (counts by status, billing, fees) but not its transactions, or None."""
    batch = await session.get(m.TransactionBatch, batch_id)
    if batch is None:
        return None
    return batch.model_dump(mode="json") | await batch_summary(session, batch_id)


async def batch_view(session: AsyncSession, batch_id: str) -> dict[str, Any] | None:
    """A batch with its summary and every transaction, or None (the JSON API's answer as it was; a
    long batch is read with ``batch_rows_page``)."""
    head = await batch_header(session, batch_id)
    if head is None:
        return None
    Tx = m.AppointmentTransaction
    rows = (await session.execute(select(Tx).where(Tx.batch_id == batch_id)
                                  .order_by(Tx.state, Tx.npn, Tx.line_of_authority))).scalars().all()
    return head | {"transactions": [transaction_out(r) for r in rows]}


def transaction_out(t: m.AppointmentTransaction) -> dict[str, Any]:
    return t.model_dump(mode="json", exclude={"idempotency_key", "explanation"})


Tb = m.AppointmentTransaction
# A batch's rows: by state then NPN and line unless a header is picked (the order the page always had).
BATCH_ROW_SORTING = Sorting({
    "state": [Tb.state, Tb.npn, Tb.line_of_authority], "npn": [Tb.npn, Tb.state, Tb.line_of_authority],
    "line_of_authority": [Tb.line_of_authority, Tb.state, Tb.npn], "loa_category": [Tb.loa_category],
    "status": [Tb.status], "eligibility_reason": [Tb.eligibility_reason], "billable": [Tb.billable],
    "fee": [Tb.fee], "termination_reason_code": [Tb.termination_reason_code],
    "nipr_reference": [Tb.nipr_reference]}, default="state", unique=Tb.id)


def batch_status_filter(status: str) -> str:
    """A batch page's status filter: empty for every row, else one transaction status, refused in words."""
    status = " ".join((status or "").split())
    if status and status not in STATUSES:
        raise Invalid(f"status {status!r} is not a transaction status: one of {', '.join(STATUSES)}, or empty for all")
    return status


async def batch_rows_page(session: AsyncSession, batch_id: str, status: str, offset: int, limit: int,
                          sort: str = "state") -> Page:
    """One page of a batch's transactions (``status``: one status, empty for all) with the total."""
    stmt = select(Tb).where(Tb.batch_id == batch_id)
    if status:
        stmt = stmt.where(Tb.status == status)
    return await page(session, stmt, BATCH_ROW_SORTING, sort, offset, limit, {"status": status} if status else {})


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
                            sort: str = "-created_at", after: str = "") -> Page:
    """One page of the transactions the filter keeps (Ready or JIT Held unless it says otherwise), with the total.
    ``after`` (a transaction's id, the last of the page before) reads the page that follows it in ``sort``
    order by key, ``offset`` rows further: a deep page costs what the first does."""
    stmt = select(T).where(*f.where())
    if not after:
        return await page(session, stmt, TRANSACTION_SORTING, sort, offset, limit, f.query())
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.execute(stmt.where(await _after(session, sort, after))
                                 .order_by(*TRANSACTION_SORTING.order_by(sort)).offset(offset).limit(limit))
    return Page(list(rows.scalars()), total, offset, limit, sort, f.query())


async def _after(session: AsyncSession, sort: str, after: str) -> Any:
    """The rows that come after transaction ``after`` in ``sort`` order (its sort columns, then its id)."""
    TRANSACTION_SORTING.order_by(sort)  # an unknown sort is refused in words before the cursor is read
    columns = [*TRANSACTION_SORTING.columns[sort.removeprefix("-")], T.id]
    values = (await session.execute(select(*columns).where(T.id == after))).first()
    if values is None:
        raise Invalid(f"after {after!r} names no transaction: give the id of the last transaction of a page")
    if any(x is None for x in values):
        raise Invalid(f"transaction {after!r} has no value to sort by {sort}: read the list by offset")
    # bound with the columns' own types: a time is compared as the database stores it
    key, at = tuple_(*columns), tuple_(*(literal(x, c.type) for x, c in zip(values, columns, strict=True)))
    return key < at if sort.startswith("-") else key > at
