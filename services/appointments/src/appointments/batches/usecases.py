"""Batches: submit (review ends), close transactions, the summary."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.batches.filters import TransactionFilter
from appointments.domain import eligibility as el
from appointments.domain import vocabulary as v
from appointments.errors import BatchStateError, Invalid, NotFound
from appointments.sql import chunks, in_list
from appointments.transactions.records import (
    emit_sent,
    settle_batches,
    write_status_events,
)


async def submit_batch(tx: Transaction, batch_id: str, include_jit: bool = False) -> m.TransactionBatch:
    """Send the batch's Ready-to-Submit transactions (and its held JIT ones with ``include_jit``).
    A transaction identical to one already pending at NIPR is refused, not sent."""
    s = tx.session
    batch = await s.get(m.TransactionBatch, batch_id, with_for_update=True)
    if batch is None:
        raise NotFound("no such batch")
    T = m.AppointmentTransaction
    statuses = v.SENDABLE if include_jit else (v.READY,)
    rows = list((await s.execute(select(T).where(T.batch_id == batch_id, T.status.in_(statuses))
                                 .order_by(T.state, T.npn, T.line_of_authority))).scalars())
    if not rows:
        held = await s.scalar(select(func.count()).select_from(T).where(T.batch_id == batch_id, T.status == v.JIT_HELD))
        raise BatchStateError(f"batch is {batch.status} and has nothing ready to submit"
                              + (f" ({held} JIT held: choose to also submit the JIT held transactions)" if held else ""))
    npns = list({r.npn for r in rows})
    pending: dict[str, str] = {}  # identity key → the transaction pending at NIPR with it
    for part in chunks(npns):
        pending.update((k, tid) for k, tid in (await s.execute(select(T.identity_key, T.id).where(
            in_list(T.npn, part), T.kind == batch.kind, T.status == v.SUBMITTED))).all() if k)
    now = utcnow()
    sent: list[m.AppointmentTransaction] = []
    changed: list[m.AppointmentTransaction] = []
    for r in rows:
        key = r.identity_key or el.identity_key(r.kind, r.npn, r.state, r.line_of_authority, r.cocode, r.license_number)
        if key in pending:
            r.status, r.eligibility_reason, r.billable, r.fee = v.NOT_ELIGIBLE, v.DUPLICATE_PENDING, False, None
            r.explanation = el.duplicate_pending(r.state, r.cocode, r.line_of_authority, r.loa_category, now.date(),
                                                 pending[key]).to_json()
        else:
            pending[key] = r.id
            r.identity_key = key
            r.status, r.submitted_at = v.SUBMITTED, now
            sent.append(r)
        r.updated_at = now
        changed.append(r)
    await s.flush()
    if sent:
        batch.submitted_by, batch.submitted_at = tx.actor, now
        await emit_sent(tx, batch.id, batch.cocode, sent)
    await write_status_events(tx, changed)
    await settle_batches(tx, [batch.id])
    return batch


AUDITED_BATCHES = 50  # batch ids named in one audit row (its detail is bounded); the count is whole
CLOSABLE = (v.READY, v.JIT_HELD, v.NOT_ELIGIBLE, v.REJECTED)


def _not_closable(status: str) -> str:
    if status == v.SUBMITTED:
        return "pending at NIPR: it can be closed once NIPR has answered"
    if status == v.CLOSED:
        return "already closed"
    return f"already {status} by NIPR: nothing to close"


async def close_transactions(tx: Transaction, transaction_ids: Sequence[str], reason: str,
                             how: dict[str, Any] | None = None) -> dict[str, Any]:
    """Close transactions, one or a list. A Ready or JIT Held one is withdrawn before NIPR (never
    sent, so not billed); a Not Eligible or Rejected one is set aside (closing refunds nothing NIPR
    charged). One pending at NIPR or answered cannot be: each refusal says why. Who closed it, when
    and why are recorded (``how``: what the audit row adds, e.g. the filter they were chosen by);
    closing again changes nothing."""
    T = m.AppointmentTransaction
    ids = list(dict.fromkeys(transaction_ids))
    found: dict[str, m.AppointmentTransaction] = {}
    for part in chunks(ids):
        found.update({r.id: r for r in (await tx.session.execute(
            select(T).where(T.id.in_(part)).with_for_update())).scalars()})
    now = utcnow()
    closed: list[m.AppointmentTransaction] = []
    refused: list[dict[str, Any]] = []
    for tid in ids:
        r = found.get(tid)
        if r is None:
            refused.append({"id": tid, "status": None, "reason": "no such transaction"})
        elif r.status not in CLOSABLE:
            refused.append({"id": tid, "status": r.status, "reason": _not_closable(r.status)})
        else:
            if r.status in v.SENDABLE:
                r.billable, r.fee = False, None
            r.status, r.updated_at = v.CLOSED, now
            r.closed_by, r.closed_at, r.close_reason = tx.actor, now, reason
            closed.append(r)
    await tx.session.flush()
    await write_status_events(tx, closed)
    await settle_batches(tx, {r.batch_id for r in closed})
    if closed:
        batches = sorted({r.batch_id for r in closed})
        await tx.audit("transactions.closed", subject_type="transaction_batch",
                       subject_id=batches[0] if len(batches) == 1 else None,
                       detail={"closed": len(closed), "refused": len(refused), "reason": reason,
                               "batch_count": len(batches), "batches": batches[:AUDITED_BATCHES], **(how or {})})
    return {"closed": [r.id for r in closed], "refused": refused}


MATCHING_LIMIT = 10_000  # transactions one "close all matching" may close (the by-id route's bound too)


async def close_matching(tx: Transaction, f: TransactionFilter, reason: str,
                         limit: int = MATCHING_LIMIT) -> dict[str, Any]:
    """Close every Ready or JIT Held transaction the list's filter keeps, with a reason, through
    ``close_transactions`` (audited with the filter). More than ``limit`` is refused in words."""
    if f.statuses() is None or not set(f.statuses() or ()) <= set(v.SENDABLE):
        raise Invalid(f"closing all that match takes Ready to Submit or JIT Held transactions, not {f.status or 'any'}: "
                      "choose one of them (or neither, for both)")
    T = m.AppointmentTransaction
    ids = list((await tx.session.execute(select(T.id).where(*f.where()).order_by(T.created_at, T.id)
                                         .limit(limit + 1))).scalars())
    if len(ids) > limit:
        raise Invalid(f"more than {limit:,} transactions match: narrow the filter (state, CoCode, NPN or batch) "
                      "and close them in parts")
    out = await close_transactions(tx, ids, reason, {"chosen_by": "filter", "filter": f.query()})
    return {"matched": len(ids), "closed": len(out["closed"]), "refused": out["refused"]}


async def close_not_eligible(tx: Transaction, batch_id: str, reason: str | None = None) -> int:
    """Close a batch's Not Eligible transactions in bulk (the seed: leave them, or close them)."""
    if await tx.session.get(m.TransactionBatch, batch_id) is None:
        raise NotFound("no such batch")
    T = m.AppointmentTransaction
    ids = list((await tx.session.execute(select(T.id).where(T.batch_id == batch_id, T.status == v.NOT_ELIGIBLE)))
               .scalars())
    return len((await close_transactions(tx, ids, reason or v.CLOSED_NOT_ELIGIBLE))["closed"])


async def batch_summary(s: AsyncSession, batch_id: str) -> dict[str, Any]:
    T = m.AppointmentTransaction
    counts = dict((await s.execute(select(T.status, func.count()).where(T.batch_id == batch_id)
                                   .group_by(T.status))).all())
    billable, non_billable, fee_all, fee_ready, fee_jit = (await s.execute(select(
        func.sum(case((T.billable.is_(True), 1), else_=0)),
        func.sum(case((T.billable.is_(True), 0), else_=1)),
        func.sum(case((T.billable.is_(True), T.fee), else_=None)),
        func.sum(case((T.status == v.READY, T.fee), else_=None)),
        func.sum(case((T.status == v.JIT_HELD, T.fee), else_=None)),
    ).where(T.batch_id == batch_id))).one()

    def money(x: Any) -> str:
        if x is None:
            return "0.00"
        # the sum keeps the Money column type, so it comes back as an exact Decimal on both databases
        return str(Decimal(x).quantize(Decimal("0.01")))

    return {"counts": counts, "billable": int(billable or 0), "non_billable": int(non_billable or 0),
            "fee_estimate": money(fee_all), "fee_ready_to_submit": money(fee_ready), "fee_jit_held": money(fee_jit)}
