"""appointments' use cases: bulk appoint, batches, NIPR results, license sync."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

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
from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments import refdata
from appointments.domain import eligibility as el
from appointments.domain import vocabulary as v
from appointments.domain.rows import COCODE_RE, COCODE_RULE

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
            if len(st) != 2 or not st.isalpha():
                raise ValueError(f"{st!r} is not a two-letter state code")
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


class NewTransaction(BaseModel):
    npn: str = Field(pattern=r"^\d{1,10}$")
    state: str = Field(pattern=r"^[A-Z]{2}$")
    line_of_authority: str = Field(min_length=1, max_length=100)
    termination_reason_code: str | None = Field(None, max_length=50)


class NewBatch(BaseModel):
    cocode: str = Field(pattern=COCODE_RE.pattern)
    kind: Literal["appointment", "termination"] = "appointment"
    transactions: list[NewTransaction] = Field(min_length=1, max_length=10_000)


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


async def write_status_events(tx: Transaction, rows: Sequence[dict[str, Any]]) -> None:
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


async def open_identities(s: AsyncSession, npns: Sequence[str], kind: str = "appointment",
                          statuses: Sequence[str] = v.OPEN_STATUSES) -> dict[tuple[str, ...], str]:
    """Identities of open transactions of these NPNs → their status (Submitted wins)."""
    T = m.AppointmentTransaction
    found: dict[tuple[str, ...], str] = {}
    for part in _chunks(npns):
        for npn, st, line, cocode, status in (await s.execute(select(
                T.npn, T.state, T.line_of_authority, T.cocode, T.status).where(
                in_list(T.npn, part), T.kind == kind, T.status.in_(statuses)))).all():
            key = el.identity(kind, npn, st, line, cocode)
            if found.get(key) != v.SUBMITTED:
                found[key] = status
    return found


async def appointed_identities(s: AsyncSession, npns: Sequence[str]) -> set[tuple[str, ...]]:
    A = m.CarrierAppointment
    found: set[tuple[str, ...]] = set()
    for part in _chunks(npns):
        for npn, st, line, cocode in (await s.execute(select(A.npn, A.state, A.line_of_authority, A.cocode).where(
                in_list(A.npn, part), A.status == v.APPOINTED))).all():
            found.add(el.identity("appointment", npn, st, line, cocode))
    return found


# -- bulk appoint ---------------------------------------------------------------------------------------
def _row(t: el.Evaluated, batch_id: str, actor: str, now: datetime) -> dict[str, Any]:
    sent = t.auto_submit
    return {
        "id": str(uuid.uuid4()), "batch_id": batch_id, "kind": "appointment", "npn": t.npn, "state": t.state,
        "line_of_authority": t.line_of_authority, "cocode": t.cocode,
        "status": v.SUBMITTED if sent else t.status, "nipr_reason": None, "nipr_reference": None,
        "idempotency_key": str(uuid.uuid4()), "updated_at": now, "loa_category": t.loa_category,
        "eligibility_reason": t.eligibility_reason, "billable": t.billable, "jit": t.jit, "fee": t.fee,
        "license_number": t.license_number, "termination_reason_code": None, "created_by": actor,
        "identity_key": el.identity_key("appointment", t.npn, t.state, t.line_of_authority, t.cocode, t.license_number),
        "created_at": now, "submitted_at": now if sent else None, "answered_at": None,
    }


async def bulk_appoint(tx: Transaction, requests: Sequence[BulkRequest], *, source: str = "api",
                       as_of: date | None = None, emit_status_events: bool = True,
                       batches: dict[str, str] | None = None) -> dict[str, Any]:
    """Evaluate every request against one indexed snapshot, store every transaction with
    executemany, one batch per CoCode, auto-submit what the flags ask for.

    ``batches`` (CoCode → batch id, updated in place) lets a background job's chunks share one
    batch per CoCode: a batch already in it is reused, not created."""
    s = tx.session
    ref = await refdata.snapshot(s, as_of)
    npns = list(dict.fromkeys(r.npn for r in requests))
    producers = await load_producers(s, npns, ref.assignment_required)
    open_ids = await open_identities(s, npns)
    appointed = await appointed_identities(s, npns)
    results = [el.evaluate(el.AppointRequest(r.npn, tuple(r.states), r.loa_category, tuple(r.cocodes), r.submit,
                                             r.submit_jit), producers.get(r.npn), ref, open_ids, appointed)
               for r in requests]
    now = utcnow()
    batch_of: dict[str, str] = batches if batches is not None else {}
    existing = set(batch_of.values())
    used: dict[str, str] = {}
    rows_per_request: list[list[dict[str, Any]]] = []
    all_rows: list[dict[str, Any]] = []
    for res in results:
        rows = []
        for t in res.transactions:
            bid = batch_of.setdefault(t.cocode, str(uuid.uuid4()))
            used[t.cocode] = bid
            rows.append(_row(t, bid, tx.actor, now))
        rows_per_request.append(rows)
        all_rows.extend(rows)
    sent_by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in all_rows:
        if r["status"] == v.SUBMITTED:
            sent_by_batch[r["batch_id"]].append(r)
    new_batches = [(c, b) for c, b in used.items() if b not in existing]
    if new_batches:
        await s.execute(insert(m.TransactionBatch.__table__), [
            {"id": bid, "cocode": cocode, "kind": "appointment", "source": source,
             "status": "submitted" if sent_by_batch.get(bid) else "draft", "created_by": tx.actor, "created_at": now,
             "submitted_by": tx.actor if sent_by_batch.get(bid) else None,
             "submitted_at": now if sent_by_batch.get(bid) else None, "completed_at": None}
            for cocode, bid in new_batches])
    # a reused batch that sends more is pending again (it may have completed since the last chunk)
    resent = [b for b in used.values() if b in existing and sent_by_batch.get(b)]
    if resent:
        await s.execute(update(m.TransactionBatch).where(m.TransactionBatch.id.in_(resent)).values(
            status="submitted", submitted_by=tx.actor, submitted_at=now, completed_at=None))
    for part in _chunks(all_rows):
        await s.execute(insert(m.AppointmentTransaction.__table__), list(part))
    for cocode, bid in used.items():
        if sent_by_batch.get(bid):
            await _emit_sent(tx, bid, cocode, sent_by_batch[bid])
    if emit_status_events and all_rows:
        await write_status_events(tx, all_rows)
    return {
        "results": [_result_view(res, rows) for res, rows in zip(results, rows_per_request, strict=True)],
        "batches": [{"cocode": c, "batch_id": b} for c, b in used.items()],
        "transactions": len(all_rows),
    }


def _result_view(res: el.RequestResult, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "npn": res.npn,
        "rejected": res.rejection_reason is not None,
        "rejection_reason": res.rejection_reason,
        "refused": [{"state": r.state, "cocode": r.cocode, "line_of_authority": r.line_of_authority,
                     "reason": r.reason} for r in res.refusals],
        "transactions": [{
            "id": r["id"], "state": r["state"], "line_of_authority": r["line_of_authority"],
            "loa_category": r["loa_category"], "cocode": r["cocode"], "status": r["status"],
            "eligibility_reason": r["eligibility_reason"], "batch_id": r["batch_id"], "billable": r["billable"],
            "jit": r["jit"], "fee": str(r["fee"]) if r["fee"] is not None else None,
            "license_number": r["license_number"]} for r in rows],
    }


# -- batches --------------------------------------------------------------------------------------------
async def create_batch(tx: Transaction, data: NewBatch, source: str = "manual") -> m.TransactionBatch:
    """A batch from explicit transactions (operators and integrations that decide lines themselves)."""
    ref = await refdata.snapshot(tx.session)
    batch = m.TransactionBatch(cocode=data.cocode, kind=data.kind, created_by=tx.actor, source=source)
    tx.session.add(batch)
    await tx.session.flush()
    now = utcnow()
    rows = [{
        "id": str(uuid.uuid4()), "batch_id": batch.id, "kind": data.kind, "npn": t.npn, "state": t.state,
        "line_of_authority": t.line_of_authority, "cocode": data.cocode, "status": v.READY,
        "idempotency_key": str(uuid.uuid4()), "updated_at": now, "billable": True, "jit": False,
        "fee": ref.fees.get(t.state, Decimal("0.00")) if data.kind == "appointment" else None,
        "termination_reason_code": t.termination_reason_code, "created_by": tx.actor, "created_at": now,
        "eligibility_reason": None,
        "identity_key": el.identity_key(data.kind, t.npn, t.state, t.line_of_authority, data.cocode),
    } for t in data.transactions]
    await tx.session.execute(insert(m.AppointmentTransaction.__table__), rows)
    await tx.emit_many(status_event(r) for r in rows)
    return batch


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
        batch.status, batch.submitted_by, batch.submitted_at, batch.completed_at = "submitted", tx.actor, now, None
        await _emit_sent(tx, batch.id, batch.cocode, sent)
    await tx.emit_many(status_event(r) for r in changed)
    return batch


async def close_not_eligible(tx: Transaction, batch_id: str) -> int:
    """Close a batch's Not Eligible transactions (the seed: leave them, or close them in bulk).
    Closing changes nothing at NIPR and bills nothing."""
    T = m.AppointmentTransaction
    rows = list((await tx.session.execute(select(T).where(T.batch_id == batch_id, T.status == v.NOT_ELIGIBLE)))
                .scalars())
    now = utcnow()
    for r in rows:
        r.status, r.updated_at = v.CLOSED, now
    await tx.session.flush()
    await tx.emit_many(status_event(r) for r in rows)
    return len(rows)


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
    for batch_id in dict.fromkeys(r.batch_id for r in changed):
        pending = await s.scalar(select(T.id).where(T.batch_id == batch_id, T.status == v.SUBMITTED).limit(1))
        if pending is None:
            batch = await s.get(m.TransactionBatch, batch_id)
            if batch is not None and batch.status == "submitted":
                batch.status, batch.completed_at = "completed", now


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
    return task


async def list_tasks(s: AsyncSession, status: str | None = "open", limit: int = 500) -> list[m.ManualTask]:
    stmt = select(m.ManualTask).order_by(m.ManualTask.created_at.desc(), m.ManualTask.npn).limit(limit)
    if status:
        stmt = stmt.where(m.ManualTask.status == status)
    return list((await s.execute(stmt)).scalars())
