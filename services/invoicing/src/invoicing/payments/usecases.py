"""Transactions – direct bill: edits, selection, pay."""

from __future__ import annotations

from typing import Any

from agency_common.contracts.invoicing import PaymentRecorded
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, case, insert, literal, or_, select, update

from invoicing.domain.commission import (
    EntryError,
    parse_money,
)
from invoicing.errors import Conflict, Invalid
from invoicing.invoices.queries import invoice_conditions, invoice_json
from invoicing.invoices.schemas import InvoiceFilters
from invoicing.invoices.usecases import direct_bill, pay_selection
from invoicing.models import (
    Reconciliation,
)
from invoicing.payments.schemas import TransactionEdit
from invoicing.reconciliations.locking import lock, remember, replay, require_live
from invoicing.reconciliations.status import header, refresh_status
from invoicing.reconciliations.usecases import invoices_handled_by
from invoicing.tables import ANALYZE_AFTER, EVENT_CHUNK, INV, PAY, PV, ZERO, analyze


async def edit_transactions(tx: Transaction, rec_id: str, edits: list[TransactionEdit]) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    require_live(rec)
    rows = {r.id: r for r in (await tx.session.execute(select(INV).where(
        invoices_handled_by(rec_id), INV.c.id.in_([e.invoice_id for e in edits])))).all()}
    errors: dict[str, dict[str, str]] = {}
    params = []
    stale = []
    for e in edits:
        row = rows.get(e.invoice_id)
        if row is None or row.status == "unposted" or (row.carried_to and row.carried_to != rec_id):
            errors[str(e.invoice_id)] = {"invoice_id": "no posted invoice with this id here"}
            continue
        try:
            changed = ((e.seen_selected is not None and e.seen_selected != row.pay_selected)
                       or (e.seen_received is not None and parse_money(e.seen_received, "seen") != row.received)
                       or (e.seen_paid_to_date is not None
                           and parse_money(e.seen_paid_to_date, "seen") != row.paid_to_date))
        except EntryError:
            changed = True
        if changed and _already(row, e):
            continue  # what is asked already holds (the tick was saved at once, then the form sent it again)
        if changed:
            stale.append(row)
            continue
        received = None
        if e.selected:
            try:
                received = parse_money(e.received, "received")
            except EntryError as exc:
                errors[str(e.invoice_id)] = {"received": exc.message}
                continue
            if received is None:
                received = round_money(row.commission - row.paid_to_date)
        params.append({"b_id": row.id, "b_sel": e.selected, "b_received": received})
    if stale:
        raise Conflict("transactions changed since you read them: nothing was saved",
                       rows=[invoice_json(r) for r in stale], errors=errors)
    if errors:
        raise Invalid("some transactions have errors: nothing was saved", errors)
    if params:
        await tx.session.execute(update(INV).where(INV.c.id == bindparam("b_id")).values(
            pay_selected=bindparam("b_sel"), received=bindparam("b_received")), params,
            execution_options={"synchronize_session": False})
    return {"changed": len(params)}


def _already(row: Any, e: TransactionEdit) -> bool:
    if e.selected != row.pay_selected:
        return False
    if not e.selected:
        return True
    try:
        return e.received in (None, "") or parse_money(e.received, "received") == row.received
    except EntryError:
        return False


async def select_all_transactions(tx: Transaction, rec_id: str, selected: bool = True,
                                  filters: InvoiceFilters | None = None) -> dict[str, Any]:
    """Select (Received = Balance) or clear every posted, unpaid invoice the filters find, on every
    page (set-based); the selection is kept on the invoices until paid."""
    rec = await lock(tx, rec_id)
    require_live(rec)
    cond = [*direct_bill(rec_id), INV.c.status == "posted"]
    if filters is not None:
        found = select(INV.c.id).select_from(INV.outerjoin(PV, PV.c.policy_id == INV.c.policy_id)).where(
            *invoice_conditions(rec_id, ("posted",), filters))
        cond.append(INV.c.id.in_(found))
    if selected:
        cond.append(or_(INV.c.pay_selected.is_(False), INV.c.received.is_(None)))
    result = await tx.session.execute(update(INV).where(*cond).values(
        pay_selected=selected, received=(INV.c.commission - INV.c.paid_to_date) if selected else None),
        execution_options={"synchronize_session": False})
    if (result.rowcount or 0) > ANALYZE_AFTER:
        await analyze(tx, INV)
    return {"changed": result.rowcount or 0}


async def pay_selected(tx: Transaction, rec_id: str, key: str | None = None) -> dict[str, Any]:
    """Pay All Selected: the received amounts become payments (set-based), the header is updated."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "pay")) is not None:
        return done
    require_live(rec)
    paid = await pay_range(tx, rec)
    await audit_paid(tx, rec_id, paid)
    if paid["paid"] > ANALYZE_AFTER:
        await analyze(tx, INV, PAY)
    t = await refresh_status(tx, rec)
    return await remember(tx, key, rec_id, "pay", {**paid, "reconciliation": header(rec, t)})


async def audit_paid(tx: Transaction, rec_id: str, paid: dict[str, Any], **detail: Any) -> None:
    """One row per Pay (not per invoice): how many were paid and the total received."""
    if paid["paid"]:
        await tx.audit("invoices.paid", subject_type="reconciliation", subject_id=rec_id,
                       detail={"count": paid["paid"], "received_total": paid["received_total"], **detail})


async def pay_range(tx: Transaction, rec: Reconciliation, run_id: str | None = None,
               id_range: tuple[int, int] | None = None) -> dict[str, Any]:
    """Pay the selected received amounts; with ``run_id`` (Create/Pay All) exactly that run's new
    invoices, each received in full (Received = Balance), leaving other pending selections alone.
    ``id_range`` limits it to those invoice ids (a background job's chunk)."""
    within = [INV.c.id >= id_range[0], INV.c.id <= id_range[1]] if id_range else []
    if run_id is not None:
        cond = [INV.c.reconciliation_id == rec.id, INV.c.run_id == run_id, INV.c.status == "posted", *within]
        await tx.session.execute(update(INV).where(*cond).values(received=INV.c.commission - INV.c.paid_to_date),
                                 execution_options={"synchronize_session": False})
        cond.append(INV.c.received.is_not(None))
    else:
        cond = [*pay_selection(rec.id), *within]
    now = utcnow()
    # the ids and amounts in one read: each event's total is summed here, not queried per chunk
    received = (await tx.session.execute(select(INV.c.id, INV.c.received).where(*cond).order_by(INV.c.id))).all()
    if not received:
        return {"paid": 0, "received_total": "0.00"}
    total = sum((r.received for r in received), ZERO)
    await tx.session.execute(insert(PAY).from_select(
        ["reconciliation_id", "invoice_id", "amount", "paid_at", "paid_by"],
        select(literal(rec.id), INV.c.id, INV.c.received, literal(now, PAY.c.paid_at.type),
               literal(tx.actor)).where(*cond)))
    await tx.session.execute(update(INV).where(*cond).values(
        paid_to_date=INV.c.paid_to_date + INV.c.received,
        status=case((INV.c.commission - INV.c.paid_to_date - INV.c.received == 0, "paid"), else_="posted"),
        pay_selected=False, received=None), execution_options={"synchronize_session": False})
    rec.received_total = round_money((rec.received_total or ZERO) + total)
    await tx.emit_many(PaymentRecorded(reconciliation_id=rec.id, invoice_ids=[str(r.id) for r in part],
                                       received_total=sum((r.received for r in part), ZERO), paid_by=tx.actor,
                                       paid_at=now)
                       for part in (received[i:i + EVENT_CHUNK] for i in range(0, len(received), EVENT_CHUNK)))
    return {"paid": len(received), "received_total": str(total)}
