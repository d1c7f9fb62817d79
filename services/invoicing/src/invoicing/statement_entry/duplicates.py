"""The line-level duplicate guard: rows already invoiced or paid elsewhere are held back until confirmed."""

from __future__ import annotations

from typing import Any

from agency_common.db.types import Money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import and_, exists, func, literal, or_, select, update
from sqlalchemy.sql import ColumnElement

from invoicing.domain.commission import (
    BILL_TYPES,
    RATE_TYPES,
)
from invoicing.domain.duplicates import EarlierInvoice, duplicate_message
from invoicing.errors import Invalid
from invoicing.reconciliations.locking import lock, require_live
from invoicing.statement_entry.audit import audit_bulk_change
from invoicing.statement_entry.schemas import DuplicateConfirmation
from invoicing.tables import INV, PAY, PV, REC, ZERO, E


def valid_row() -> ColumnElement[bool]:
    """The SQL twin of ``row_errors`` being empty (a row Create Invoices can invoice)."""
    known = PV.alias("pv_known")
    return and_(
        E.c.policy_id.is_not(None), exists().where(known.c.policy_id == E.c.policy_id).correlate_except(known),
        E.c.effective_date.is_not(None),
        or_(E.c.expiration_date.is_(None), E.c.expiration_date >= E.c.effective_date),
        E.c.rate_type.in_(RATE_TYPES), E.c.rate.is_not(None), E.c.commission_paid.is_not(None),
        E.c.bill_type.in_(BILL_TYPES), or_(E.c.premium_paid.is_not(None), E.c.rate_type == "flat"))


def _prior_invoice(prior: Any, rec_id: str) -> list[ColumnElement[bool]]:
    """The SQL twin of ``domain.duplicates.same_line``: an invoice of another reconciliation for the
    same policy, bill type, effective date, premium and commission as the row."""
    return [prior.c.reconciliation_id != rec_id, prior.c.policy_id == E.c.policy_id,
            prior.c.bill_type == E.c.bill_type, prior.c.effective_date == E.c.effective_date,
            prior.c.premium == func.coalesce(E.c.premium_paid, literal(ZERO, Money())),
            prior.c.commission == E.c.commission_paid]


def _duplicate(rec_id: str) -> ColumnElement[bool]:
    """The row is the same line as an invoice elsewhere (flagged on entry)."""
    prior = INV.alias("inv_prior")
    return exists().where(*_prior_invoice(prior, rec_id)).correlate_except(prior)


def _held_back(rec_id: str) -> ColumnElement[bool]:
    """Flagged and not confirmed: Create Invoices and Create/Pay All leave the row out."""
    return and_(E.c.duplicate_confirmed_at.is_(None), _duplicate(rec_id))


async def hold_back_duplicates(tx: Transaction, rec_id: str, id_range: tuple[int, int] | None) -> None:
    """Mark the pending rows a Create run leaves out (flagged, not confirmed), in statements of their
    own before the INSERT ... SELECT: an anti-join against ``invoice`` inside the insert would scan
    the table it fills (the PostgreSQL lesson in docs/benchmarks.md). Usually no row changes."""
    pending = pending_rows(rec_id, id_range, not_invoiced=False)
    await tx.session.execute(update(E).where(*pending, E.c.duplicate_held.is_(True), ~_held_back(rec_id)).values(
        duplicate_held=False), execution_options={"synchronize_session": False})
    await tx.session.execute(update(E).where(*pending, E.c.duplicate_held.is_(False), _held_back(rec_id)).values(
        duplicate_held=True), execution_options={"synchronize_session": False})


async def held_back_count(session: Any, rec_id: str) -> int:
    """Selected, valid, not invoiced rows left out as duplicates (the count the operator is told)."""
    return await session.scalar(select(func.count()).select_from(E).where(
        *pending_rows(rec_id), valid_row(), E.c.duplicate_held.is_(True))) or 0


async def earlier_invoices(session: Any, rec_id: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """For these rows, the invoice elsewhere each is the same line as (the latest one), in words."""
    if not ids:
        return {}
    prior = INV.alias("inv_prior")
    rows = (await session.execute(
        select(E.c.id.label("entry_id"), prior.c.id, prior.c.status, prior.c.reconciliation_id,
               prior.c.carried_to)
        .select_from(E.join(prior, and_(*_prior_invoice(prior, rec_id))))
        .where(E.c.reconciliation_id == rec_id, E.c.id.in_(ids)).order_by(prior.c.id))).all()
    if not rows:
        return {}
    invoice_ids = [r.id for r in rows]
    payments: dict[int, Any] = {}
    for p in (await session.execute(select(PAY.c.invoice_id, PAY.c.reconciliation_id, PAY.c.paid_at).where(
            PAY.c.invoice_id.in_(invoice_ids), PAY.c.voided_at.is_(None)).order_by(PAY.c.paid_at))).all():
        payments[p.invoice_id] = p  # the latest payment
    rec_ids = {r.reconciliation_id for r in rows} | {p.reconciliation_id for p in payments.values()}
    numbers = dict((await session.execute(select(REC.c.id, REC.c.number).where(REC.c.id.in_(rec_ids)))).all())
    found: dict[int, dict[str, Any]] = {}
    for r in rows:  # ordered by invoice id: the latest invoice wins
        paid = payments.get(r.id) if r.status == "paid" else None
        where = paid.reconciliation_id if paid else r.reconciliation_id
        earlier = EarlierInvoice(reconciliation_number=numbers.get(where), item_id=r.id, status=r.status,
                                 paid_on=paid.paid_at.date() if paid else None)
        found[r.entry_id] = {"reconciliation_id": where, "reconciliation_number": numbers.get(where),
                             "invoice_id": r.id, "item_id": f"{r.id}(S)", "status": r.status,
                             "paid_on": earlier.paid_on.isoformat() if earlier.paid_on else None,
                             "message": duplicate_message(earlier)}
    return found


async def confirm_duplicates(tx: Transaction, rec_id: str, data: DuplicateConfirmation) -> dict[str, Any]:
    """Record who confirmed (set-based); only flagged, not yet invoiced rows change."""
    rec = await lock(tx, rec_id)
    require_live(rec)
    if data.ids is None and not data.selection:
        raise Invalid("nothing to confirm", {"ids": "give the rows, or selection: true"})
    cond = [E.c.reconciliation_id == rec_id, entry_not_invoiced(), _duplicate(rec_id)]
    cond.append(E.c.id.in_(data.ids) if data.ids is not None else E.c.selected.is_(True))
    now = utcnow()
    changed = list((await tx.session.execute(update(E).where(*cond).values(
        duplicate_confirmed_at=now if data.confirmed else None,
        duplicate_confirmed_by=tx.actor if data.confirmed else None, duplicate_held=False,
        version=E.c.version + 1, updated_at=now, updated_by=tx.actor).returning(E.c.id),
        execution_options={"synchronize_session": False})).scalars())
    await audit_bulk_change(tx, rec_id, changed, {"duplicate_confirmed": {"after": data.confirmed}},
                            by="ids" if data.ids is not None else "selection")
    return {"changed": len(changed), "confirmed": data.confirmed}


def entry_not_invoiced() -> ColumnElement[bool]:
    inv = INV.alias("inv_done")
    return ~exists().where(inv.c.entry_id == E.c.id).correlate_except(inv)


def pending_rows(rec_id: str, id_range: tuple[int, int] | None = None,
             not_invoiced: bool = True) -> list[ColumnElement[bool]]:
    cond = [E.c.reconciliation_id == rec_id, E.c.selected.is_(True)]
    if not_invoiced:
        cond.append(entry_not_invoiced())
    if id_range:
        cond += [E.c.id >= id_range[0], E.c.id <= id_range[1]]
    return cond
