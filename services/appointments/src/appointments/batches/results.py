"""NIPR's answers applied to the transactions (and the appointments they make or end)."""

from __future__ import annotations

from collections.abc import Sequence

from agency_common.contracts.nipr import TransactionResultReceived
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import select

from appointments import models as m
from appointments.domain import vocabulary as v
from appointments.sql import chunks, in_list
from appointments.transactions.records import settle_batches, write_status_events


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
    for part in chunks(ids):
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
        for part in chunks(npns):
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
    await write_status_events(tx, changed)
    await settle_batches(tx, {r.batch_id for r in changed})
