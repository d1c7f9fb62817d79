"""The one place that creates appointment and termination transactions.

Every path that creates them (bulk appoint by API, file, dashboard form and background job; bulk
terminate) calls ``appoint`` or ``terminate``. Both judge every request with the engine
(``domain/eligibility.py``: the eligibility reasons, the transactions already on record, what is
appointed) against one snapshot, and hand only its verdicts to ``_store``: the single INSERT into
``appointment_transactions``, where the billing rule lives (a Not Eligible transaction is never
billed and never sent). ``tests/appointments/transactions/test_guarded_transactions_service.py`` fails when another
module writes that table.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import eligibility as el
from appointments.domain import vocabulary as v
from appointments.producers.queries import load_producers
from appointments.reference_data import refdata
from appointments.sql import chunks, in_list
from appointments.transactions.records import (
    emit_sent,
    settle_batches,
    settle_imports,
    write_status_events,
)
from appointments.transactions.schemas import BulkRequest

# What a new request is compared with: open transactions, and Not Eligible ones nobody closed.
ON_RECORD = (*v.OPEN_STATUSES, v.NOT_ELIGIBLE)


# -- what is on record ------------------------------------------------------------------------------------
async def known_transactions(s: AsyncSession, npns: Sequence[str], kind: str) -> el.Known:
    T = m.AppointmentTransaction
    known: el.Known = {}
    for part in chunks(npns):
        for tid, npn, st, line, cocode, status, batch_id, reason in (await s.execute(select(
                T.id, T.npn, T.state, T.line_of_authority, T.cocode, T.status, T.batch_id, T.eligibility_reason)
                .where(in_list(T.npn, part), T.kind == kind, T.status.in_(ON_RECORD))
                .order_by(T.created_at, T.id))).all():
            known.setdefault(el.identity(kind, npn, st, line, cocode), []).append(
                el.Existing(tid, status, batch_id, reason))
    return known


async def appointed_lines(s: AsyncSession, npns: Sequence[str]) -> dict[tuple[str, ...], str]:
    """Identities of Appointed appointments of these NPNs → their line as recorded."""
    A = m.CarrierAppointment
    found: dict[tuple[str, ...], str] = {}
    for part in chunks(npns):
        for npn, st, line, cocode in (await s.execute(select(A.npn, A.state, A.line_of_authority, A.cocode).where(
                in_list(A.npn, part), A.status == v.APPOINTED))).all():
            found[el.identity("appointment", npn, st, line, cocode)] = line
    return found


async def open_task_identities(s: AsyncSession, npns: Sequence[str]) -> set[tuple[str, ...]]:
    """Terminations filed by hand and not done yet: a second one is refused like an open transaction."""
    M = m.ManualTask
    found: set[tuple[str, ...]] = set()
    for part in chunks(npns):
        for npn, st, line, cocode in (await s.execute(select(M.npn, M.state, M.line_of_authority, M.cocode).where(
                in_list(M.npn, part), M.status == "open"))).all():
            found.add(el.identity("termination", npn, st, line, cocode))
    return found


# -- the single insert ------------------------------------------------------------------------------------
def _row(t: el.Evaluated, batch_id: str, actor: str, now: datetime) -> dict[str, Any]:
    eligible = t.status != v.NOT_ELIGIBLE
    sent = eligible and t.auto_submit  # the billing rule: only eligible transactions are sent and billed
    return {
        "id": t.id, "batch_id": batch_id, "kind": t.kind, "npn": t.npn, "state": t.state,
        "line_of_authority": t.line_of_authority, "cocode": t.cocode,
        "status": v.SUBMITTED if sent else t.status, "nipr_reason": None, "nipr_reference": None,
        "idempotency_key": str(uuid.uuid4()), "updated_at": now, "loa_category": t.loa_category,
        "eligibility_reason": t.eligibility_reason, "billable": eligible, "jit": t.jit,
        "fee": t.fee if eligible else None, "license_number": t.license_number,
        "termination_reason_code": t.termination_reason_code, "for_cause": t.for_cause, "created_by": actor,
        "identity_key": el.identity_key(t.kind, t.npn, t.state, t.line_of_authority, t.cocode, t.license_number),
        "created_at": now, "submitted_at": now if sent else None, "answered_at": None,
        "explanation": t.why.to_json() if t.why is not None and not eligible else None,
    }


async def _store(tx: Transaction, placed: Sequence[tuple[str, el.Evaluated]], *,
                 emit_status_events: bool = True) -> list[dict[str, Any]]:
    """The engine's verdicts (batch id, transaction) → rows, with executemany; what is sent goes to
    the gateway in the same transaction (the outbox)."""
    now = utcnow()
    rows = [_row(t, bid, tx.actor, now) for bid, t in placed]
    for part in chunks(rows):
        await tx.session.execute(insert(m.AppointmentTransaction.__table__), list(part))
    sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["status"] == v.SUBMITTED:
            sent[r["batch_id"]].append(r)
    await _mark_sent(tx, sent, now)
    if emit_status_events and rows:
        await write_status_events(tx, rows)
    return rows


async def _mark_sent(tx: Transaction, sent: dict[str, list[Any]], now: datetime) -> None:
    if not sent:
        return
    await tx.session.execute(update(m.TransactionBatch).where(m.TransactionBatch.id.in_(list(sent))).values(
        submitted_by=tx.actor, submitted_at=now))
    for bid, items in sent.items():
        first = items[0]
        await emit_sent(tx, bid, first["cocode"] if isinstance(first, dict) else first.cocode, items)


async def _new_batches(tx: Transaction, batches: Sequence[dict[str, Any]]) -> None:
    if batches:
        now = utcnow()
        await tx.session.execute(insert(m.TransactionBatch.__table__), [
            {"status": "draft", "created_by": tx.actor, "created_at": now, "import_id": None} | b for b in batches])


async def _release(tx: Transaction, held: Sequence[el.Existing]) -> set[str]:
    """Send held transactions a later request asked to send (submit / submitJustInTime); only those
    still held, so a concurrent submission sends nothing twice. Returns their batches."""
    if not held:
        return set()
    T = m.AppointmentTransaction
    now = utcnow()
    rows = list((await tx.session.execute(select(T).where(
        T.id.in_([e.id for e in held]), T.status.in_(v.SENDABLE)).with_for_update())).scalars())
    sent: dict[str, list[m.AppointmentTransaction]] = defaultdict(list)
    for r in rows:
        r.status, r.submitted_at, r.updated_at = v.SUBMITTED, now, now
        sent[r.batch_id].append(r)
    await tx.session.flush()
    await _mark_sent(tx, sent, now)
    await write_status_events(tx, rows)
    return set(sent)


# -- bulk appoint ---------------------------------------------------------------------------------------
async def appoint(tx: Transaction, requests: Sequence[BulkRequest], *, source: str = "api",
                  as_of: date | None = None, emit_status_events: bool = True,
                  batches: dict[str, str] | None = None) -> dict[str, Any]:
    """Evaluate every request against one indexed snapshot, store every transaction, one batch per
    CoCode, send what the flags ask for (held ones a request matches included).

    ``batches`` (CoCode → batch id, updated in place) lets a background job's chunks share one
    batch per CoCode: a batch already in it is reused, not created."""
    s = tx.session
    ref = await refdata.snapshot(s, as_of)
    npns = list(dict.fromkeys(r.npn for r in requests))
    producers = await load_producers(s, npns, ref.assignment_required)
    known = await known_transactions(s, npns, "appointment")
    appointed = set(await appointed_lines(s, npns))
    results = [el.evaluate(el.AppointRequest(r.npn, tuple(r.states), r.loa_category, tuple(r.cocodes), r.submit,
                                             r.submit_jit), producers.get(r.npn), ref, known, appointed)
               for r in requests]
    batch_of: dict[str, str] = batches if batches is not None else {}
    reused = set(batch_of.values())
    placed = [(batch_of.setdefault(t.cocode, str(uuid.uuid4())), t) for res in results for t in res.transactions]
    used = {t.cocode: bid for bid, t in placed}
    await _new_batches(tx, [{"id": bid, "cocode": cocode, "kind": "appointment", "source": source}
                            for cocode, bid in used.items() if bid not in reused])
    rows = await _store(tx, placed, emit_status_events=emit_status_events)
    released = await _release(tx, [e for res in results for e in res.released])
    await settle_batches(tx, {*used.values(), *released})
    batch_of_row = {r["id"]: r["batch_id"] for r in rows}
    by_request: list[list[dict[str, Any]]] = []
    it = iter(rows)
    for res in results:
        by_request.append([next(it) for _ in res.transactions])
    return {
        "results": [_result_view(res, rs, batch_of_row) for res, rs in zip(results, by_request, strict=True)],
        "batches": [{"cocode": c, "batch_id": b} for c, b in used.items()],
        "transactions": len(rows),
        "released": sum(len(res.released) for res in results),
    }


def _match_view(e: el.Existing, batch_of_row: dict[str, str]) -> dict[str, Any]:
    return {"id": e.id, "status": e.status, "batch_id": e.batch_id or batch_of_row.get(e.id),
            "eligibility_reason": e.eligibility_reason}


def _result_view(res: el.RequestResult, rows: list[dict[str, Any]], batch_of_row: dict[str, str]) -> dict[str, Any]:
    return {
        "npn": res.npn,
        "rejected": res.rejection_reason is not None,
        "rejection_reason": res.rejection_reason,
        # identical to a request whose transactions are still on record: nothing was created
        "identical": res.identical,
        "refused": [{"state": r.state, "cocode": r.cocode, "line_of_authority": r.line_of_authority,
                     "reason": r.reason, "matches": [_match_view(e, batch_of_row) for e in r.matches]}
                    for r in res.refusals],
        "released": [_match_view(el.Existing(e.id, v.SUBMITTED, e.batch_id, e.eligibility_reason), batch_of_row)
                     for e in res.released],
        "transactions": [{
            "id": r["id"], "state": r["state"], "line_of_authority": r["line_of_authority"],
            "loa_category": r["loa_category"], "cocode": r["cocode"], "status": r["status"],
            "eligibility_reason": r["eligibility_reason"], "batch_id": r["batch_id"], "billable": r["billable"],
            "jit": r["jit"], "fee": str(r["fee"]) if r["fee"] is not None else None,
            "license_number": r["license_number"]} for r in rows],
    }


# -- bulk terminate -------------------------------------------------------------------------------------
async def judge_terminations(s: AsyncSession, requests: Sequence[el.TerminateRequest],
                             ref: el.RefData | None = None) -> list[el.TerminationResult]:
    """Every termination judged against what is appointed and already open now (also used to
    preview a file: the same rules at parse and at submit)."""
    ref = ref or await refdata.snapshot(s)
    npns = list(dict.fromkeys(r.npn for r in requests))
    appointed = await appointed_lines(s, npns)
    known = await known_transactions(s, npns, "termination")
    tasks = await open_task_identities(s, npns)
    return [el.evaluate_termination(r, ref, appointed, known, tasks) for r in requests]


async def terminate(tx: Transaction, requests: Sequence[tuple[int | None, el.TerminateRequest]], *,
                    immediate: bool = False, batch_size: int = 500, import_id: str | None = None,
                    source: str = "termination-import") -> dict[str, Any]:
    """Termination transactions in batches per CoCode (at most ``batch_size`` each), left for review
    or sent now (``immediate``); a for-cause one in a state that refuses it electronically becomes a
    manual task; refused ones are listed with their reason and create nothing.
    ``requests`` pairs each with its file line (or None)."""
    s = tx.session
    verdicts = await judge_terminations(s, [r for _line, r in requests])
    now = utcnow()
    tasks = [{"id": str(uuid.uuid4()), "kind": "for-cause termination", "status": "open", "npn": r.npn,
              "state": r.state, "line_of_authority": verdict.line_of_authority, "cocode": r.cocode,
              "termination_reason_code": verdict.code, "instructions": verdict.manual, "import_id": import_id,
              "line": line, "created_by": tx.actor, "created_at": now}
             for (line, r), verdict in zip(requests, verdicts, strict=True) if verdict.manual]
    if tasks:
        await s.execute(insert(m.ManualTask.__table__), tasks)
    by_cocode: dict[str, list[el.Evaluated]] = defaultdict(list)
    for verdict in verdicts:
        if verdict.transaction is not None:
            verdict.transaction.auto_submit = immediate
            by_cocode[verdict.transaction.cocode].append(verdict.transaction)
    placed: list[tuple[str, el.Evaluated]] = []
    batches: list[dict[str, Any]] = []
    for cocode, items in sorted(by_cocode.items()):
        for i in range(0, len(items), max(1, batch_size)):
            part = items[i:i + batch_size]
            bid = str(uuid.uuid4())
            batches.append({"id": bid, "cocode": cocode, "kind": "termination", "source": source,
                            "import_id": import_id})
            placed.extend((bid, t) for t in part)
    await _new_batches(tx, batches)
    await _store(tx, placed)
    await settle_batches(tx, {b["id"] for b in batches})
    if import_id:
        await settle_imports(s, [import_id])  # an import of manual tasks only has no batch
    counts: dict[str, int] = defaultdict(int)
    for bid, _t in placed:
        counts[bid] += 1
    return {
        "immediate": immediate, "transactions": len(placed),
        "batches": [{"batch_id": b["id"], "cocode": b["cocode"], "transactions": counts[b["id"]],
                     "status": "submitted" if immediate else "draft"} for b in batches],
        "manual_tasks": [{"id": t["id"], "npn": t["npn"], "state": t["state"], "cocode": t["cocode"],
                          "line_of_authority": t["line_of_authority"], "instructions": t["instructions"]}
                         for t in tasks],
        "refused": [{"line": line, "npn": r.npn, "state": r.state, "line_of_authority": r.line_of_authority,
                     "cocode": r.cocode, "reason": verdict.refusal,
                     "matches": [{"id": e.id, "status": e.status, "batch_id": e.batch_id} for e in verdict.matches]}
                    for (line, r), verdict in zip(requests, verdicts, strict=True) if verdict.refusal],
    }
