"""appointments' use cases: bulk appoint, batches, NIPR results, license sync."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from agency_common.contracts.appointments import (
    GatewayTransaction,
    LicenseSyncRequested,
    TransactionBatchSubmitted,
    TransactionStatusChanged,
)
from agency_common.contracts.nipr import LicensesFetched, TransactionResultReceived
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import eligibility as el
from appointments.domain import vocabulary as v
from appointments.domain.rows import COCODE_RE, COCODE_RULE, state_error

SERVICE = "appointments"
CHUNK = 2000  # rows per executemany / IN list
EVENT_CHUNK = 500  # transactions per TransactionBatchSubmitted message


# -- inputs --------------------------------------------------------------------------------------------
class BulkRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    npn: str = Field(pattern=r"^\d{1,10}$")
    states: list[str] = Field(min_length=1, max_length=60)
    loa_category: str = Field(min_length=1, max_length=150)
    cocodes: list[str] = Field(min_length=1, max_length=20)
    submit: bool = False
    submit_jit: bool = Field(False, alias="submitJustInTime")

    @field_validator("states")
    @classmethod
    def _states(cls, value: list[str]) -> list[str]:
        out = []
        for st in value:
            st = st.strip().upper()
            if err := state_error(st):
                raise ValueError(err)
            if st not in out:
                out.append(st)
        return out

    @field_validator("cocodes")
    @classmethod
    def _cocodes(cls, value: list[str]) -> list[str]:
        out = list(dict.fromkeys(c.strip() for c in value if c.strip()))
        for c in out:
            if not COCODE_RE.match(c):  # "6054" is not "06054": never padded or guessed
                raise ValueError(f"{c!r} is not a CoCode ({COCODE_RULE})")
        return out


class BulkAppoint(BaseModel):
    requests: list[BulkRequest] = Field(min_length=1, max_length=50_000)


class BatchStateError(ValueError):
    pass


# -- events --------------------------------------------------------------------------------------------
def status_event(row: dict[str, Any] | m.AppointmentTransaction) -> TransactionStatusChanged:
    g = row.get if isinstance(row, dict) else lambda k, d=None: getattr(row, k, d)
    return TransactionStatusChanged(
        transaction_id=g("id"), batch_id=g("batch_id"), kind=g("kind"), npn=g("npn"), state=g("state"),
        line_of_authority=g("line_of_authority"), cocode=g("cocode"), status=g("status"),
        eligibility_reason=g("eligibility_reason") or g("nipr_reason"), billable=bool(g("billable")),
        fee=g("fee"), submitted_at=g("submitted_at"), answered_at=g("answered_at"),
        changed_at=g("updated_at") or utcnow())


async def write_status_events(tx: Transaction, rows: Sequence[Any]) -> None:
    """TransactionStatusChanged for many rows, written to the outbox a part at a time (the loop gets turns)."""
    for part in _chunks(rows, EVENT_CHUNK):
        await tx.emit_many(status_event(r) for r in part)


def gateway_tx(row: dict[str, Any] | m.AppointmentTransaction) -> GatewayTransaction:
    g = row.get if isinstance(row, dict) else lambda k, d=None: getattr(row, k, d)
    return GatewayTransaction(transaction_id=g("id"), idempotency_key=g("idempotency_key"), kind=g("kind"),
                              npn=g("npn"), state=g("state"), line_of_authority=g("line_of_authority"),
                              cocode=g("cocode"), termination_reason_code=g("termination_reason_code"),
                              for_cause=bool(g("for_cause")))


async def _emit_sent(tx: Transaction, batch_id: str, cocode: str, rows: Sequence[Any]) -> None:
    """The batch's sent transactions go to the gateway in messages of at most EVENT_CHUNK."""
    for i in range(0, len(rows), EVENT_CHUNK):
        await tx.emit(TransactionBatchSubmitted(batch_id=batch_id, cocode=cocode,
                                                transactions=[gateway_tx(r) for r in rows[i:i + EVENT_CHUNK]]))


# -- loading what the engine needs ---------------------------------------------------------------------
def in_list(column: Any, values: Sequence[str]) -> Any:
    """``column IN (...)`` with the values rendered as literals: PostgreSQL then plans with
    constants (a hashed IN list and the right index), where a 2,000-parameter generic plan could
    compare every row against every parameter. Only for validated identifiers (NPNs)."""
    return column.in_(bindparam(f"in_{column.key}", value=list(values), expanding=True, literal_execute=True))


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def load_producers(s: AsyncSession, npns: Sequence[str], with_assignments: bool) -> dict[str, el.Producer]:
    out: dict[str, el.Producer] = {}
    ids: dict[str, str] = {}
    for part in _chunks(npns):
        for pid, npn, status, active in (await s.execute(select(
                m.Producer.id, m.Producer.npn, m.Producer.sync_status, m.Producer.active)
                .where(in_list(m.Producer.npn, part)))).all():
            out[npn] = el.Producer(npn=npn, synced=status == "synced", active=active)
            ids[pid] = npn
        for row in (await s.execute(select(
                m.License.npn, m.License.state, m.License.license_number, m.License.license_class,
                m.License.lines_of_authority, m.License.active, m.License.resident, m.License.expiration_date)
                .where(in_list(m.License.npn, part)))).all():
            p = out.get(row[0])
            if p is not None:
                p.licenses.setdefault(row[1], []).append(el.License(
                    state=row[1], license_number=row[2], license_class=row[3],
                    lines_of_authority=frozenset(el.norm(x) for x in row[4].split(";") if x.strip()),
                    active=row[5], resident=row[6], expiration_date=row[7]))
    if with_assignments and ids:
        pids = list(ids)
        for part in _chunks(pids):
            for pid, cat, st, cocode in (await s.execute(select(
                    m.ProducerAssignment.producer_id, m.ProducerAssignment.loa_category, m.ProducerAssignment.state,
                    m.ProducerAssignment.cocode).where(in_list(m.ProducerAssignment.producer_id, part)))).all():
                out[ids[pid]].assignments.add((el.norm(cat), st, cocode or ""))
    return out


# -- batches --------------------------------------------------------------------------------------------
async def submit_batch(tx: Transaction, batch_id: str, include_jit: bool = False) -> m.TransactionBatch:
    """Send the batch's Ready-to-Submit transactions (and its held JIT ones with ``include_jit``).
    A transaction identical to one already pending at NIPR is refused, not sent."""
    s = tx.session
    batch = await s.get(m.TransactionBatch, batch_id, with_for_update=True)
    if batch is None:
        raise LookupError(batch_id)
    T = m.AppointmentTransaction
    statuses = v.SENDABLE if include_jit else (v.READY,)
    rows = list((await s.execute(select(T).where(T.batch_id == batch_id, T.status.in_(statuses))
                                 .order_by(T.state, T.npn, T.line_of_authority))).scalars())
    if not rows:
        held = await s.scalar(select(func.count()).select_from(T).where(T.batch_id == batch_id, T.status == v.JIT_HELD))
        raise BatchStateError(f"batch is {batch.status} and has nothing ready to submit"
                              + (f" ({held} JIT held: choose to also submit the JIT held transactions)" if held else ""))
    npns = list({r.npn for r in rows})
    pending: set[str] = set()
    for part in _chunks(npns):
        pending.update(k for k in (await s.execute(select(T.identity_key).where(
            in_list(T.npn, part), T.kind == batch.kind, T.status == v.SUBMITTED))).scalars() if k)
    now = utcnow()
    sent: list[m.AppointmentTransaction] = []
    changed: list[m.AppointmentTransaction] = []
    for r in rows:
        key = r.identity_key or el.identity_key(r.kind, r.npn, r.state, r.line_of_authority, r.cocode, r.license_number)
        if key in pending:
            r.status, r.eligibility_reason, r.billable, r.fee = v.NOT_ELIGIBLE, v.DUPLICATE_PENDING, False, None
        else:
            pending.add(key)
            r.identity_key = key
            r.status, r.submitted_at = v.SUBMITTED, now
            sent.append(r)
        r.updated_at = now
        changed.append(r)
    await s.flush()
    if sent:
        batch.submitted_by, batch.submitted_at = tx.actor, now
        await _emit_sent(tx, batch.id, batch.cocode, sent)
    await tx.emit_many(status_event(r) for r in changed)
    await settle_batches(tx, [batch.id])
    return batch


async def settle_batches(tx: Transaction, batch_ids: Iterable[str]) -> None:
    """A batch's status follows its transactions: ``submitted`` while one is pending at NIPR,
    ``completed`` once nothing is (and it sent something), ``draft`` while it has something to send,
    ``closed`` when it never sent anything and nothing in it can be sent (only Not Eligible or
    closed transactions): such a batch would otherwise wait in draft for ever. A termination file
    follows its batches (``settle_imports``)."""
    s = tx.session
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return
    T, B = m.AppointmentTransaction, m.TransactionBatch

    def holds(*statuses: str) -> Any:  # an index look-up (batch_id, status), however big the batch
        return exists().where(T.batch_id == B.id, T.status.in_(statuses))

    now = utcnow()
    batches: list[m.TransactionBatch] = []
    for part in _chunks(ids):
        for b, pending, sendable in (await s.execute(
                select(B, holds(v.SUBMITTED), holds(*v.SENDABLE)).where(B.id.in_(part))
                .execution_options(populate_existing=True))).all():
            batches.append(b)
            status = ("submitted" if pending else "completed" if b.submitted_at is not None
                      else "draft" if sendable else "closed")
            if status == b.status:
                continue
            b.status = status
            b.completed_at = now if status in ("completed", "closed") else None
            b.closed_reason = None
            if status == "closed":
                other = await s.scalar(select(T.id).where(T.batch_id == b.id, T.status != v.NOT_ELIGIBLE).limit(1))
                b.closed_reason = v.BATCH_NOTHING_LEFT if other else v.BATCH_NOT_ELIGIBLE
    await s.flush()
    await settle_imports(s, {b.import_id for b in batches if b.import_id})


async def settle_imports(s: AsyncSession, import_ids: Iterable[str]) -> None:
    """A submitted termination file's status follows its batches and manual tasks: ``awaiting
    review`` while a batch is draft, ``submitted`` while one is pending at NIPR, ``awaiting manual
    tasks`` while a for-cause task is open, then ``completed``."""
    B, M = m.TransactionBatch, m.ManualTask
    for iid in dict.fromkeys(import_ids):
        imp = await s.get(m.BulkImport, iid)
        if imp is None or imp.kind != "terminations" or imp.processed_at is None:
            continue
        statuses = set((await s.execute(select(B.status).where(B.import_id == iid).distinct())).scalars())
        open_tasks = await s.scalar(select(M.id).where(M.import_id == iid, M.status == "open").limit(1))
        imp.status = ("awaiting review" if "draft" in statuses else "submitted" if "submitted" in statuses
                      else "awaiting manual tasks" if open_tasks else "completed")


CLOSABLE = (v.READY, v.JIT_HELD, v.NOT_ELIGIBLE, v.REJECTED)


def _not_closable(status: str) -> str:
    if status == v.SUBMITTED:
        return "pending at NIPR: it can be closed once NIPR has answered"
    if status == v.CLOSED:
        return "already closed"
    return f"already {status} by NIPR: nothing to close"


async def close_transactions(tx: Transaction, transaction_ids: Sequence[str], reason: str) -> dict[str, Any]:
    """Close transactions, one or a list. A Ready or JIT Held one is withdrawn before NIPR (never
    sent, so not billed); a Not Eligible or Rejected one is set aside (closing refunds nothing NIPR
    charged). One pending at NIPR or answered cannot be: each refusal says why. Who closed it, when
    and why are recorded; closing again changes nothing."""
    T = m.AppointmentTransaction
    ids = list(dict.fromkeys(transaction_ids))
    found: dict[str, m.AppointmentTransaction] = {}
    for part in _chunks(ids):
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
    return {"closed": [r.id for r in closed], "refused": refused}


async def close_not_eligible(tx: Transaction, batch_id: str, reason: str | None = None) -> int:
    """Close a batch's Not Eligible transactions in bulk (the seed: leave them, or close them)."""
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


# -- NIPR results ---------------------------------------------------------------------------------------
async def apply_nipr_result(tx: Transaction, result: TransactionResultReceived) -> None:
    await apply_nipr_results(tx, [result])


async def apply_nipr_results(tx: Transaction, results: Sequence[TransactionResultReceived]) -> None:
    """NIPR's answers, a consumed run at a time: transactions → Appointed / Terminated / Rejected,
    carrier appointments kept, a status event each, batches completed when nothing is pending.
    An answer for a transaction no longer Submitted (a redelivery) has no second effect."""
    s = tx.session
    T, A = m.AppointmentTransaction, m.CarrierAppointment
    rows: dict[str, m.AppointmentTransaction] = {}
    ids = list(dict.fromkeys(r.transaction_id for r in results))
    for part in _chunks(ids):
        rows.update({r.id: r for r in (await s.execute(select(T).where(T.id.in_(part)))).scalars()})
    now = utcnow()
    changed: list[m.AppointmentTransaction] = []
    accepted_rows: list[tuple[m.AppointmentTransaction, TransactionResultReceived]] = []
    for result in results:
        row = rows.get(result.transaction_id)
        if row is None or row.status != v.SUBMITTED:
            continue
        accepted = result.outcome == "accepted"
        row.status = (v.APPOINTED if row.kind == "appointment" else v.TERMINATED) if accepted else v.REJECTED
        row.nipr_reason, row.nipr_reference = result.reason, result.nipr_reference
        row.answered_at, row.updated_at = result.processed_at, now
        changed.append(row)
        if accepted:
            accepted_rows.append((row, result))
    if accepted_rows:
        npns = list({r.npn for r, _ in accepted_rows})
        existing: dict[tuple[str, str, str, str], m.CarrierAppointment] = {}
        for part in _chunks(npns):
            for a in (await s.execute(select(A).where(in_list(A.npn, part)))).scalars():
                existing[(a.npn, a.state, a.line_of_authority, a.cocode)] = a
        for row, result in accepted_rows:
            key = (row.npn, row.state, row.line_of_authority, row.cocode)
            appt = existing.get(key)
            if appt is None:
                appt = A(npn=row.npn, state=row.state, line_of_authority=row.line_of_authority, cocode=row.cocode,
                         loa_category=row.loa_category, status=v.APPOINTED)
                s.add(appt)
                existing[key] = appt
            if row.kind == "appointment":
                appt.status, appt.appointed_at, appt.terminated_at, appt.termination_reason_code = \
                    v.APPOINTED, result.processed_at, None, None
            else:
                appt.status, appt.terminated_at, appt.termination_reason_code = \
                    v.TERMINATED, result.processed_at, row.termination_reason_code
            appt.nipr_reference, appt.last_transaction_id = result.nipr_reference, row.id
    if not changed:
        return
    await s.flush()
    await tx.emit_many(status_event(r) for r in changed)
    await settle_batches(tx, {r.batch_id for r in changed})


# -- license sync ---------------------------------------------------------------------------------------
async def request_license_sync(tx: Transaction, npns: Sequence[str]) -> int:
    if not npns:
        return 0
    now = utcnow()
    for part in _chunks(list(npns)):
        await tx.session.execute(update(m.Producer).where(in_list(m.Producer.npn, part)).values(sync_requested_at=now))
    await tx.emit_many(LicenseSyncRequested(npn=n, request_id=str(uuid.uuid4())) for n in npns)
    return len(npns)


async def producers_due_for_sync(s: AsyncSession, refresh: timedelta, retry_after: timedelta,
                                 limit: int = 1000) -> list[str]:
    """Producers never synced (and not asked recently), or synced longer ago than ``refresh``."""
    now = utcnow()
    P = m.Producer
    asked_long_ago = or_(P.sync_requested_at.is_(None), P.sync_requested_at < now - retry_after)
    stmt = select(P.npn).where(or_(
        and_(P.synced_at.is_(None), asked_long_ago),
        and_(P.synced_at < now - refresh, asked_long_ago))).order_by(P.npn).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def apply_licenses(tx: Transaction, ev: LicensesFetched) -> None:
    s = tx.session
    producer = await s.scalar(select(m.Producer).where(m.Producer.npn == ev.npn))
    if producer is None:
        return
    if producer.synced_at is not None and producer.synced_at > ev.fetched_at:
        return  # an older answer arriving late
    producer.synced_at = ev.fetched_at
    producer.sync_status = "synced" if ev.found else "not_found"
    producer.active = bool(ev.found and ev.active)
    if ev.first_name and not producer.first_name:
        producer.first_name = ev.first_name
    if ev.last_name and not producer.last_name:
        producer.last_name = ev.last_name
    await s.execute(delete(m.License).where(m.License.producer_id == producer.id))
    if ev.licenses:
        await s.execute(insert(m.License.__table__), [{
            "producer_id": producer.id, "npn": ev.npn, "state": lic.state, "license_number": lic.license_number,
            "license_class": lic.license_class, "lines_of_authority": ";".join(lic.lines_of_authority),
            "active": lic.active, "resident": lic.resident, "effective_date": lic.effective_date,
            "expiration_date": lic.expiration_date, "fetched_at": ev.fetched_at} for lic in ev.licenses])




# -- manual tasks ---------------------------------------------------------------------------------------
async def complete_task(tx: Transaction, task_id: str, note: str | None) -> m.ManualTask:
    """The operator did it outside the system (e.g. wrote to the department): recorded with who and when."""
    task = await tx.session.get(m.ManualTask, task_id, with_for_update=True)
    if task is None:
        raise LookupError(task_id)
    if task.status != "done":
        task.status, task.done_by, task.done_at, task.note = "done", tx.actor, utcnow(), (note or None)
        if task.kind == "for-cause termination":
            await _terminated_by_hand(tx.session, task)
        if task.import_id:
            await settle_imports(tx.session, [task.import_id])
    return task


async def _terminated_by_hand(s: AsyncSession, task: m.ManualTask) -> None:
    """A for-cause termination filed in writing ends the appointment when the filing is done, as a
    Gateway termination does when NIPR accepts it."""
    A = m.CarrierAppointment
    for appt in (await s.execute(select(A).where(A.npn == task.npn, A.state == task.state, A.cocode == task.cocode,
                                                 A.status == v.APPOINTED).with_for_update())).scalars():
        if el.norm(appt.line_of_authority) == el.norm(task.line_of_authority):
            appt.status, appt.terminated_at, appt.termination_reason_code = \
                v.TERMINATED, task.done_at, task.termination_reason_code


async def list_tasks(s: AsyncSession, status: str | None = "open", limit: int = 500) -> list[m.ManualTask]:
    stmt = select(m.ManualTask).order_by(m.ManualTask.created_at.desc(), m.ManualTask.npn).limit(limit)
    if status:
        stmt = stmt.where(m.ManualTask.status == status)
    return list((await s.execute(stmt)).scalars())
