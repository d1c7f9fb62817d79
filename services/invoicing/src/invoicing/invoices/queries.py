"""Invoice and transaction lists (filters, sorts) and the invoice JSON."""

from __future__ import annotations

from typing import Any

from agency_common.money import round_money
from sqlalchemy import func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from invoicing.domain.commission import percent_of_agency
from invoicing.errors import NotFound
from invoicing.invoices.schemas import InvoiceFilters
from invoicing.invoices.usecases import pay_selection
from invoicing.models import (
    Reconciliation,
)
from invoicing.reconciliations.usecases import invoices_handled_by
from invoicing.statement_entry.queries import contains_text, rate_input, text_or_none
from invoicing.tables import INV, PV, REC, ZERO

INVOICE_SORTS = {"date": INV.c.effective_date, "item_id": INV.c.id, "bill_type": INV.c.bill_type,
                 "client": INV.c.client_name, "policy_number": INV.c.policy_number,
                 "line_of_business": INV.c.line_of_business, "premium": INV.c.premium, "commission": INV.c.commission}


async def list_invoices(session: Any, rec_id: str, statuses: tuple[str, ...], f: InvoiceFilters,
                        limit: int = 50, offset: int = 0) -> dict[str, Any]:
    if await session.get(Reconciliation, rec_id) is None:
        raise NotFound(f"reconciliation {rec_id} not found")
    cond = invoice_conditions(rec_id, statuses, f)
    order = []
    for name, direction in ((f.sort1, f.order1), (f.sort2, f.order2)):
        if name:
            order.append(INVOICE_SORTS[name].desc() if direction == "desc" else INVOICE_SORTS[name].asc())
    order.append(INV.c.id.asc())
    home = REC.alias("home")
    src = INV.outerjoin(PV, PV.c.policy_id == INV.c.policy_id)
    total = await session.scalar(select(func.count()).select_from(src).where(*cond))
    rows = (await session.execute(
        select(INV, PV.c.bill_to_name, PV.c.billed_agency_commission, home.c.number.label("home_number"))
        .select_from(src.outerjoin(home, home.c.id == INV.c.reconciliation_id))
        .where(*cond).order_by(*order).limit(limit).offset(offset))).all()
    return {"total": total, "limit": limit, "offset": offset, "items": [invoice_json(r) for r in rows]}


async def get_transactions(session: Any, rec_id: str, ids: list[int]) -> list[dict[str, Any]]:
    """These posted or paid invoices of the reconciliation's direct bill, as the list shows them."""
    home = REC.alias("home")
    rows = (await session.execute(
        select(INV, PV.c.bill_to_name, PV.c.billed_agency_commission, home.c.number.label("home_number"))
        .select_from(INV.outerjoin(PV, PV.c.policy_id == INV.c.policy_id)
                     .outerjoin(home, home.c.id == INV.c.reconciliation_id))
        .where(invoices_handled_by(rec_id), INV.c.id.in_(ids)).order_by(INV.c.id))).all()
    return [invoice_json(r) for r in rows]


def invoice_conditions(rec_id: str, statuses: tuple[str, ...], f: InvoiceFilters) -> list[ColumnElement[bool]]:
    """The invoices of a list (joined with their policy): unposted ones are the reconciliation's
    own; posted and paid ones include those carried to it from aborted reconciliations."""
    cond: list[Any] = [invoices_handled_by(rec_id) if statuses != ("unposted",) else INV.c.reconciliation_id == rec_id,
                       INV.c.status.in_(statuses)]
    for name in ("business_type", "branch", "department", "unit", "mode"):
        if getattr(f, name):
            cond.append(PV.c[name] == getattr(f, name))
    if f.line_of_business:
        cond.append(INV.c.line_of_business == f.line_of_business)
    if f.bill_type:
        cond.append(INV.c.bill_type == f.bill_type)
    if f.date_from:
        cond.append(INV.c.effective_date >= f.date_from)
    if f.date_to:
        cond.append(INV.c.effective_date <= f.date_to)
    if f.amount_type:
        col = INV.c.premium if f.amount_type == "premium" else INV.c.commission
        if f.amount_min is not None:
            cond.append(col >= round_money(f.amount_min))
        if f.amount_max is not None:
            cond.append(col <= round_money(f.amount_max))
    if f.name:
        cond.append(or_(contains_text(func.coalesce(INV.c.client_name, ""), f.name),
                        contains_text(func.coalesce(PV.c.bill_to_name, ""), f.name)))
    if f.policy_number:
        cond.append(contains_text(INV.c.policy_number, f.policy_number))
    if f.item_id:
        digits = "".join(ch for ch in f.item_id if ch.isdigit())
        cond.append(INV.c.id == int(digits) if digits else literal(False))
    return cond


def invoice_json(r: Any) -> dict[str, Any]:
    balance = round_money(r.commission - r.paid_to_date)
    m = r._mapping
    return {
        "id": r.id, "item_id": f"{r.id}(S)", "entry_id": r.entry_id, "status": r.status,
        "date": r.effective_date.isoformat() if r.effective_date else None,
        "expiration_date": r.expiration_date.isoformat() if r.expiration_date else None,
        "bill_type": r.bill_type, "client_name": r.client_name,
        "bill_to_name": m.get("bill_to_name") if m.get("bill_to_name") != r.client_name else None,
        "policy_id": r.policy_id, "policy_number": r.policy_number, "line_of_business": r.line_of_business,
        "premium": str(r.premium), "rate_type": r.rate_type, "rate": text_or_none(r.rate),
        "rate_display": rate_input(r.rate_type, r.rate), "commission": str(r.commission),
        "people_commission_total": str(r.people_commission_total),
        "people_percent_of_agency": text_or_none(percent_of_agency(r.people_commission_total, r.commission)),
        "paid_to_date": str(r.paid_to_date), "balance": str(balance), "selected": r.pay_selected,
        "received": text_or_none(r.received),
        "new_balance": str(round_money(balance - (r.received or ZERO))),
        "posted_at": r.posted_at.isoformat() if r.posted_at else None, "posted_by": r.posted_by,
        "carried_to": r.carried_to,
        "carried_from": ({"reconciliation_id": r.reconciliation_id, "reconciliation_number": m.get("home_number")}
                         if r.carried_to else None),
    }


async def selection_totals(session: Any, rec_id: str) -> dict[str, Any]:
    """What Pay All Selected would pay, over every page: "N selected (total $X)"."""
    row = (await session.execute(select(func.count(), func.sum(INV.c.received)).where(
        *pay_selection(rec_id)))).one()
    return {"selected_count": row[0] or 0, "selected_total": str(row[1] or ZERO)}
