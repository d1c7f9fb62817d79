"""Opening a reconciliation (its entry from the carrier's policies, carried invoices), its header, closing it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from agency_common.contracts.intake import carrier_key
from agency_common.db.types import Money
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, exists, func, insert, literal, or_, select, update
from sqlalchemy.sql import ColumnElement, Select

from invoicing.domain.commission import (
    Amounts,
    apply_amount_edit,
)
from invoicing.errors import Conflict, Invalid
from invoicing.models import (
    Reconciliation,
)
from invoicing.policy_view.carriers import find_carrier
from invoicing.reconciliations.locking import lock, remember, replay, require_live
from invoicing.reconciliations.schemas import HeaderEdit, NewReconciliation
from invoicing.reconciliations.status import header, refresh_status, totals
from invoicing.tables import FINAL, INV, PAY, PV, REC, ZERO, E, analyze


def _entry_from_policy_select(rec_id: str, carriers: list[str], now: datetime, actor: str) -> Select[Any]:
    return select(
        literal(rec_id).label("reconciliation_id"),
        (literal("policy:") + PV.c.policy_id).label("source_key"),
        PV.c.policy_id, PV.c.policy_number, PV.c.client_name, PV.c.line_of_business,
        literal(False).label("selected"),
        PV.c.effective_date, PV.c.expiration_date,
        PV.c.estimated_premium.label("premium_paid"),
        func.coalesce(PV.c.commission_rate_type, "percent").label("rate_type"),
        PV.c.commission_rate.label("rate"),
        PV.c.estimated_agency_commission.label("commission_paid"),
        literal("term_policy").label("bill_type"),
        literal(1).label("version"),
        literal(now, E.c.updated_at.type).label("updated_at"),
        literal(actor).label("updated_by"),
    ).where(PV.c.carrier.in_(carriers))


_FROM_POLICY_COLS = ["reconciliation_id", "source_key", "policy_id", "policy_number", "client_name",
                     "line_of_business", "selected", "effective_date", "expiration_date", "premium_paid",
                     "rate_type", "rate", "commission_paid", "bill_type", "version", "updated_at", "updated_by"]


async def add_policy_entries(tx: Transaction, rec: Reconciliation, policy_id: str | None = None,
                             policy_ids: list[str] | None = None) -> int:
    """The carrier's policies (or only these) as statement-entry rows (set-based; a policy already
    there is kept)."""
    carriers = [c for c in (rec.carrier, rec.subordinate_carrier) if c]
    source = _entry_from_policy_select(rec.id, carriers, utcnow(), tx.actor)
    source = source.where(~exists().where(E.c.reconciliation_id == rec.id,
                                          E.c.source_key == literal("policy:") + PV.c.policy_id))
    if policy_id:
        policy_ids = [policy_id]
    if policy_ids is not None:
        source = source.where(PV.c.policy_id.in_(policy_ids))
    source = source.order_by(PV.c.policy_number, PV.c.policy_id)  # row ids follow the policy numbers
    result = await tx.session.execute(insert(E).from_select(_FROM_POLICY_COLS, source))
    await fill_missing_commissions(tx, rec.id, policy_ids=policy_ids)
    if (result.rowcount or 0) > 1000:
        await analyze(tx, E)
    return result.rowcount or 0


async def fill_missing_commissions(tx: Transaction, rec_id: str, policy_ids: list[str] | None = None) -> None:
    """Rows without an estimated agency commission get premium × rate (the pure rule)."""
    cond = [E.c.reconciliation_id == rec_id, E.c.commission_paid.is_(None), E.c.premium_paid.is_not(None),
            E.c.rate.is_not(None)]
    if policy_ids is not None:
        cond.append(E.c.policy_id.in_(policy_ids))
    rows = (await tx.session.execute(select(E.c.id, E.c.premium_paid, E.c.rate_type, E.c.rate).where(*cond))).all()
    params = [{"b_id": r.id, "b_commission": apply_amount_edit(
        Amounts(r.premium_paid, r.rate_type, r.rate, None), rate=r.rate, rate_given=True).commission}
        for r in rows]
    if params:
        await tx.session.execute(
            update(E).where(E.c.id == bindparam("b_id")).values(commission_paid=bindparam("b_commission")),
            params, execution_options={"synchronize_session": False})


def business_today(timezone: str = "UTC") -> date:
    """Today where the agency works (date booked defaults to it), from the service's time-zone setting."""
    return utcnow().astimezone(ZoneInfo(timezone)).date()


async def open_reconciliation(tx: Transaction, data: NewReconciliation, today: date | None = None) -> dict[str, Any]:
    data = await _registered(tx.session, data)
    now = utcnow()
    rec = Reconciliation(
        id=str(uuid.uuid4()), number=await next_number(tx.session), entity_type=data.entity_type, carrier=data.carrier,
        subordinate_carrier=data.subordinate_carrier, name=data.name or data.subordinate_carrier or data.carrier,
        address=data.address, date_booked=data.date_booked or today or business_today(), description=data.description,
        internal_note=data.internal_note, statement_total=data.statement_total, created_at=now,
        created_by=tx.actor, updated_at=now, updated_by=tx.actor)
    tx.session.add(rec)
    await tx.session.flush()
    await add_policy_entries(tx, rec)
    await carry_stranded_invoices(tx, rec)
    return header(rec, await refresh_status(tx, rec))


async def next_number(session: Any) -> int:
    """The next reconciliation number (the one an operator reads: "reconciliation 12")."""
    return int(await session.scalar(select(func.max(REC.c.number))) or 0) + 1


def invoices_handled_by(rec_id: str) -> ColumnElement[bool]:
    """The invoices a reconciliation handles in Transactions – direct bill: its own, and those
    carried to it from aborted reconciliations."""
    return or_(INV.c.reconciliation_id == rec_id, INV.c.carried_to == rec_id)


async def carry_stranded_invoices(tx: Transaction, rec: Reconciliation) -> int:
    """A new reconciliation picks up the carrier's posted, unpaid invoices left by aborted
    reconciliations (seed 003: "they do remain posted") that no live reconciliation holds yet: they
    appear in its Transactions – direct bill and are paid there (set-based)."""
    home, held = REC.alias("home"), REC.alias("held")
    stranded = [
        INV.c.status == "posted", INV.c.commission != INV.c.paid_to_date, INV.c.reconciliation_id != rec.id,
        exists().where(home.c.id == INV.c.reconciliation_id, home.c.status == "aborted",
                       home.c.carrier == rec.carrier),
        or_(INV.c.carried_to.is_(None),
            exists().where(held.c.id == INV.c.carried_to, held.c.status == "aborted", held.c.id != rec.id)),
    ]
    result = await tx.session.execute(update(INV).where(*stranded).values(
        carried_to=rec.id, pay_selected=False, received=None), execution_options={"synchronize_session": False})
    return result.rowcount or 0


async def abort_preview(session: Any, rec: Reconciliation) -> dict[str, Any]:
    """What an abort would leave posted: this reconciliation's posted or paid invoices and those
    carried to it, with their balances once its own payments are voided (the confirmation's words)."""
    mine_paid = select(func.coalesce(func.sum(PAY.c.amount), literal(ZERO, Money()))).where(
        PAY.c.invoice_id == INV.c.id, PAY.c.reconciliation_id == rec.id, PAY.c.voided_at.is_(None)).scalar_subquery()
    balance = INV.c.commission - INV.c.paid_to_date + mine_paid
    rows = (await session.execute(select(balance.label("balance")).where(
        invoices_handled_by(rec.id), INV.c.status.in_(("posted", "paid"))))).scalars().all()
    left = [b for b in rows if b]
    return {"count": len(left), "balance": round_money(sum(left, ZERO)), "carrier": rec.carrier,
            "sentence": f"{len(left)} posted invoice{'' if len(left) == 1 else 's'} "
                        f"(${round_money(sum(left, ZERO)):,}) stay posted and will be offered to the next "
                        f"reconciliation of {rec.carrier}"}


async def _registered(session: Any, data: NewReconciliation) -> NewReconciliation:
    """The carrier, subordinate and address as the registry spells them; refused when the registry
    does not know them (a reconciliation never invents a carrier)."""
    carrier = await find_carrier(session, data.carrier)
    if carrier is None or not carrier.active:
        why = "is inactive" if carrier is not None else "is not registered"
        raise Invalid(f"carrier {data.carrier!r} {why}", {
            "carrier": f"{data.carrier!r} {why}: pick a carrier registered under intake's Carriers"})
    changes: dict[str, Any] = {"carrier": carrier.name}
    if data.subordinate_carrier:
        sub = _one_of(data.subordinate_carrier, carrier.subordinates)
        if sub is None:
            known = ", ".join(carrier.subordinates) or "none registered"
            raise Invalid(f"{data.subordinate_carrier!r} is not a subordinate of {carrier.name}", {
                "subordinate_carrier": f"not a subordinate carrier of {carrier.name} (its subordinates: {known})"})
        changes["subordinate_carrier"] = sub
    if data.address and carrier.addresses:
        address = _one_of(data.address, carrier.addresses)
        if address is None:
            raise Invalid(f"not an address of {carrier.name}", {
                "address": f"not one of {carrier.name}'s addresses: choose one from the list"})
        changes["address"] = address
    return data.model_copy(update=changes)


def _one_of(typed: str, choices: list[str]) -> str | None:
    wanted = carrier_key(typed)
    return next((c for c in choices if carrier_key(c) == wanted), None)


async def edit_header(tx: Transaction, rec_id: str, data: HeaderEdit) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    require_live(rec)
    if data.version is not None and data.version != rec.version:
        raise Conflict("reconciliation changed since you read it", current=header(rec, await totals(tx.session, rec)))
    for name in data.model_fields_set - {"version"}:
        value = getattr(data, name)
        if value is None and name in ("name", "date_booked"):
            continue  # required: a blank field keeps the current value
        setattr(rec, name, value)
    return header(rec, await refresh_status(tx, rec))


async def close_reconciliation(tx: Transaction, rec_id: str, key: str | None = None) -> dict[str, Any]:
    """Post the reconciliation itself (direct-bill stage): final, nothing changes any more."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "close")) is not None:
        return done
    require_live(rec)
    t = await totals(tx.session, rec)
    if t["unposted_count"]:
        raise Conflict("post or remove the unposted invoices first", unposted=t["unposted_count"])
    if not (t["posted_count"] or t["paid_count"]):
        raise Conflict("nothing posted to reconcile")
    rec.status, rec.closed_at, rec.closed_by = "closed", utcnow(), tx.actor
    t = await refresh_status(tx, rec)
    await tx.audit("reconciliation.closed", subject_type="reconciliation", subject_id=rec_id, detail={
        name: t[name] for name in ("posted_count", "paid_count", "invoiced_commission", "statement_total",
                                   "received_total", "difference", "carried_count")})
    return await remember(tx, key, rec_id, "close", {"reconciliation": header(rec, t)})


async def on_policies_known(tx: Transaction, policies: list[tuple[str, str]]) -> None:
    """New policies ``(carrier, policy id)`` join the statement entry of their carrier's open
    reconciliations (the ones opened by hand: a statement's reconciliation holds its lines only);
    one query finds those reconciliations for a whole batch, usually none."""
    carriers = sorted({carrier for carrier, _ in policies})
    recs = (await tx.session.execute(select(Reconciliation).where(
        or_(Reconciliation.carrier.in_(carriers), Reconciliation.subordinate_carrier.in_(carriers)),
        Reconciliation.statement_id.is_(None), Reconciliation.status.not_in(FINAL)))).scalars().all()
    for rec in recs:
        mine = {rec.carrier, rec.subordinate_carrier}
        await add_policy_entries(tx, rec, policy_ids=[pid for carrier, pid in policies if carrier in mine])
