"""Statement entry search (filters, sorts) and the row JSON shared by API and pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agency_common.money import round_money
from sqlalchemy import func, or_, select
from sqlalchemy.sql import ColumnElement

from invoicing.domain.commission import (
    DISCREPANCY_TEXT,
    row_errors,
)
from invoicing.errors import NotFound
from invoicing.models import (
    Reconciliation,
)
from invoicing.statement_entry.duplicates import earlier_invoices
from invoicing.statement_entry.schemas import SORT_FIELDS, EntryFilters
from invoicing.tables import EXC, INV, OC, PV, ZERO, E


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def entry_conditions(rec_id: str, f: EntryFilters) -> list[ColumnElement[bool]]:
    c: list[ColumnElement[bool]] = [E.c.reconciliation_id == rec_id]
    if f.business_type:
        c.append(PV.c.business_type == f.business_type)
    if f.line_of_business:
        c.append(func.coalesce(PV.c.line_of_business, E.c.line_of_business) == f.line_of_business)
    if not f.include_history:
        c.append(or_(PV.c.in_history.is_(None), PV.c.in_history.is_(False)))
    if not f.include_selected:
        c.append(E.c.selected.is_(False))
    for name in ("branch", "department", "unit", "mode", "status"):
        if getattr(f, name):
            c.append(PV.c[name] == getattr(f, name))
    if f.date_type and (f.date_from or f.date_to):
        col = E.c.effective_date if f.date_type == "coverage_effective" else PV.c.effective_date
        if f.date_from:
            c.append(col >= f.date_from)
        if f.date_to:
            c.append(col <= f.date_to)
    if f.amount_type and (f.amount_min is not None or f.amount_max is not None):
        col = E.c.premium_paid if f.amount_type == "premium" else E.c.commission_paid
        if f.amount_min is not None:
            c.append(col >= round_money(f.amount_min))
        if f.amount_max is not None:
            c.append(col <= round_money(f.amount_max))
    if f.name:
        c.append(or_(contains_text(func.coalesce(PV.c.client_name, E.c.client_name), f.name),
                     contains_text(func.coalesce(PV.c.bill_to_name, ""), f.name)))
    if f.client:
        c.append(contains_text(func.coalesce(PV.c.client_name, E.c.client_name, ""), f.client))
    if f.policy_number:
        c.append(contains_text(E.c.policy_number, f.policy_number))
    if f.policy:
        c.append(contains_text(E.c.policy_number, f.policy))
    return c


def entry_order(f: EntryFilters) -> list[Any]:
    order: list[Any] = [E.c.selected.asc()]  # unselected rows first
    for field_name, direction in ((f.sort1, f.order1), (f.sort2, f.order2)):
        if field_name:
            col = SORT_FIELDS[field_name]()
            order.append(col.desc() if direction == "desc" else col.asc())
    order.append(E.c.id.asc())
    return order


def entries_from() -> Any:
    return E.outerjoin(PV, PV.c.policy_id == E.c.policy_id).outerjoin(INV, INV.c.entry_id == E.c.id)


def entry_json(row: Any, others: list[dict[str, Any]], exception: dict[str, Any] | None,
               duplicate: dict[str, Any] | None = None) -> dict[str, Any]:
    m = row._mapping
    errors = row_errors(policy_known=m["pv_policy_id"] is not None, effective_date=m["effective_date"],
                        expiration_date=m["expiration_date"], premium=m["premium_paid"],
                        rate_type=m["rate_type"], rate=m["rate"], commission=m["commission_paid"],
                        bill_type=m["bill_type"])
    client, bill_to = m["pv_client_name"] or m["client_name"], m["bill_to_name"]
    people_total = sum((Decimal(o["amount"]) for o in others), ZERO)
    return {
        "id": m["id"], "version": m["version"], "line_no": m["line_no"], "duplicate_of": m["duplicate_of"],
        "policy_id": m["policy_id"], "policy_number": m["policy_number"],
        "line_of_business": m["pv_lob"] or m["line_of_business"],
        "client_name": client, "bill_to_name": bill_to if bill_to and bill_to != client else None,
        "mode": m["mode"], "policy_status": m["status"], "in_history": bool(m["in_history"]),
        "business_type": m["business_type"], "transaction_type": m["transaction_type"],
        "selected": m["selected"], "selected_at": m["selected_at"].isoformat() if m["selected_at"] else None,
        "selected_by": m["selected_by"],
        "effective_date": m["effective_date"].isoformat() if m["effective_date"] else None,
        "expiration_date": m["expiration_date"].isoformat() if m["expiration_date"] else None,
        "premium_paid": text_or_none(m["premium_paid"]), "rate_type": m["rate_type"], "rate": text_or_none(m["rate"]),
        "rate_input": rate_input(m["rate_type"], m["rate"]),
        "commission_paid": text_or_none(m["commission_paid"]), "bill_type": m["bill_type"],
        "agency_commission_billed": text_or_none(m["billed_agency_commission"]),
        "agency_commission_estimated": text_or_none(m["estimated_agency_commission"]),
        "other_commissions": others, "people_commission_total": str(people_total),
        "invoice_id": m["invoice_id"], "item_id": f"{m['invoice_id']}(S)" if m["invoice_id"] else None,
        "invoice_status": m["invoice_status"], "errors": errors, "exception": exception,
        # the same line already invoiced or paid in another reconciliation (domain.duplicates)
        "duplicate": duplicate,
        "duplicate_confirmed_at": m["duplicate_confirmed_at"].isoformat() if m["duplicate_confirmed_at"] else None,
        "duplicate_confirmed_by": m["duplicate_confirmed_by"],
        "duplicate_excluded": bool(duplicate and not m["duplicate_confirmed_at"] and not m["invoice_id"]),
    }


def rate_input(rate_type: str | None, rate: Decimal | None) -> str:
    """A rate as an operator types it: "12.5%" for % of premium, the amount for flat."""
    if rate is None:
        return ""
    if rate_type == "flat":
        return str(round_money(rate))
    text = f"{rate * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def entry_columns() -> list[Any]:
    return [E, PV.c.policy_id.label("pv_policy_id"), PV.c.client_name.label("pv_client_name"),
            PV.c.bill_to_name, PV.c.line_of_business.label("pv_lob"), PV.c.mode, PV.c.status, PV.c.in_history,
            PV.c.business_type, PV.c.billed_agency_commission, PV.c.estimated_agency_commission,
            INV.c.id.label("invoice_id"), INV.c.status.label("invoice_status")]


async def search_entries(session: Any, rec_id: str, f: EntryFilters, limit: int = 50,
                         offset: int = 0) -> dict[str, Any]:
    if await session.get(Reconciliation, rec_id) is None:
        raise NotFound(f"reconciliation {rec_id} not found")
    where = entry_conditions(rec_id, f)
    narrow = E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)  # what the filters and sorts need
    total = await session.scalar(select(func.count()).select_from(narrow).where(*where))
    page_ids = list((await session.execute(select(E.c.id).select_from(narrow).where(*where)
                                           .order_by(*entry_order(f)).limit(limit).offset(offset))).scalars())
    by_id = {r["id"]: r for r in await get_entries(session, rec_id, page_ids)} if page_ids else {}
    return {"total": total, "limit": limit, "offset": offset, "items": [by_id[i] for i in page_ids]}


async def _with_details(session: Any, rec_id: str, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    others: dict[int, list[dict[str, Any]]] = {}
    exceptions: dict[int, dict[str, Any]] = {}
    if ids:
        for oc in (await session.execute(select(OC).where(OC.c.entry_id.in_(ids)).order_by(OC.c.id))).all():
            others.setdefault(oc.entry_id, []).append(other_json(oc))
        for x in (await session.execute(select(EXC).where(
                EXC.c.reconciliation_id == rec_id, EXC.c.entry_id.in_(ids), EXC.c.status == "open"))).all():
            exceptions[x.entry_id] = exception_json(x)
    duplicates = await earlier_invoices(session, rec_id, ids)
    return [entry_json(r, others.get(r.id, []), exceptions.get(r.id), duplicates.get(r.id)) for r in rows]


async def get_entries(session: Any, rec_id: str, ids: list[int]) -> list[dict[str, Any]]:
    rows = (await session.execute(select(*entry_columns()).select_from(entries_from()).where(
        E.c.reconciliation_id == rec_id, E.c.id.in_(ids)).order_by(E.c.id))).all()
    return await _with_details(session, rec_id, rows)


def other_json(oc: Any) -> dict[str, Any]:
    return {"id": oc.id, "entry_id": oc.entry_id, "employee": oc.employee, "production_role": oc.production_role,
            "commission_on": oc.commission_on, "level_lob": oc.level_lob,
            "production_credit": str(oc.production_credit), "rate_type": oc.rate_type, "rate": str(oc.rate),
            "amount": str(oc.amount)}


def exception_json(x: Any) -> dict[str, Any]:
    reasons = [r for r in x.reasons.split(",") if r]
    return {"entry_id": x.entry_id, "reasons": reasons, "messages": [DISCREPANCY_TEXT[r] for r in reasons],
            "commission": text_or_none(x.commission), "credit_total": str(x.credit_total),
            "people_total": str(x.people_total), "status": x.status}
