"""Saving the statement entry: bulk edits, added rows, policy matching, selections, resets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, case, func, insert, select, update

from invoicing.domain.commission import (
    BILL_TYPES,
    RATE_TYPES,
    Amounts,
    EntryError,
    apply_amount_edit,
    parse_money,
    parse_rate,
    row_errors,
)
from invoicing.errors import Conflict, Invalid
from invoicing.models import (
    Reconciliation,
)
from invoicing.reconciliations.locking import lock, remember, replay, require_live
from invoicing.reconciliations.status import refresh_status
from invoicing.statement_entry.audit import audit_bulk_change, audit_entry_change, entry_changes
from invoicing.statement_entry.duplicates import entry_not_invoiced
from invoicing.statement_entry.queries import entry_conditions, get_entries, text_or_none
from invoicing.statement_entry.schemas import EntryEdit, EntryFilters
from invoicing.tables import INV, OC, PV, ZERO, E

EDITABLE = ("effective_date", "expiration_date", "premium_paid", "rate_type", "rate", "commission_paid",
            "bill_type")


def _parse_date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise EntryError(field, f"not a date (YYYY-MM-DD): {value!r}") from None


@dataclass
class _Planned:
    row: Any
    values: dict[str, Any]
    add_rows: int


def plan_edit(row: Any, edit: EntryEdit) -> tuple[dict[str, Any], dict[str, str]]:
    """The new values of one row and every error of it (pure: no I/O)."""
    given = edit.model_fields_set
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def attempt(fn: Any) -> Any:
        try:
            return fn()
        except EntryError as exc:
            errors[exc.field] = exc.message
            return None

    for field in ("effective_date", "expiration_date"):
        if field in given:
            values[field] = attempt(lambda f=field: _parse_date(getattr(edit, f), f))
    if "bill_type" in given:
        if edit.bill_type not in BILL_TYPES:
            errors["bill_type"] = f"must be one of {', '.join(BILL_TYPES)}"
        else:
            values["bill_type"] = edit.bill_type
    rate_type = row.rate_type
    if "rate_type" in given:
        if edit.rate_type not in RATE_TYPES:
            errors["rate_type"] = f"must be one of {', '.join(RATE_TYPES)}"
        else:
            rate_type = edit.rate_type
    premium = attempt(lambda: parse_money(edit.premium_paid, "premium_paid")) \
        if "premium_paid" in given else None
    commission = attempt(lambda: parse_money(edit.commission_paid, "commission_paid")) \
        if "commission_paid" in given else None
    rate = attempt(lambda: parse_rate(edit.rate, rate_type)) if "rate" in given else None
    amounts_given = {"premium_paid", "commission_paid", "rate", "rate_type"} & given
    if amounts_given and not errors.keys() & {"premium_paid", "commission_paid", "rate", "rate_type"}:
        amounts = attempt(lambda: apply_amount_edit(
            Amounts(row.premium_paid, row.rate_type, row.rate, row.commission_paid),
            premium=premium, rate_type=rate_type, rate=rate, commission=commission,
            premium_given="premium_paid" in given, rate_given="rate" in given,
            commission_given="commission_paid" in given))
        if amounts is not None:
            values.update(premium_paid=amounts.premium, rate_type=amounts.rate_type, rate=amounts.rate,
                          commission_paid=amounts.commission)
    only_unselecting = given <= {"id", "version", "selected"} and edit.selected is False
    if not errors and not only_unselecting:
        merged = {f: values.get(f, getattr(row, f)) for f in EDITABLE}
        errors.update(row_errors(policy_known=True, effective_date=merged["effective_date"],
                                 expiration_date=merged["expiration_date"], premium=merged["premium_paid"],
                                 rate_type=merged["rate_type"], rate=merged["rate"],
                                 commission=merged["commission_paid"], bill_type=merged["bill_type"]))
    if edit.selected is not None:
        values["selected"] = edit.selected
    return values, errors


async def save_entries(tx: Transaction, rec_id: str, edits: list[EntryEdit], key: str | None = None) -> dict[str, Any]:
    """Save: validate every row; any error or stale version saves nothing and reports every row."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "save")) is not None:
        return done
    require_live(rec)
    ids = [e.id for e in edits]
    if len(set(ids)) != len(ids):
        raise Invalid("a row appears twice in one save", {})
    rows = {r.id: r for r in (await tx.session.execute(select(E, INV.c.id.label("invoice_id")).select_from(
        E.outerjoin(INV, INV.c.entry_id == E.c.id)).where(E.c.reconciliation_id == rec_id, E.c.id.in_(ids)))).all()}
    errors: dict[str, dict[str, str]] = {}
    stale: list[int] = []
    plans: list[_Planned] = []
    matches = await _policies_by_number(tx, rec, [e.policy_number for e in edits
                                                  if "policy_number" in e.model_fields_set and e.policy_number])
    for edit in edits:
        row = rows.get(edit.id)
        if row is None:
            errors[str(edit.id)] = {"id": "no such row in this reconciliation"}
            continue
        only_selecting = edit.model_fields_set <= {"id", "selected", "version"}
        if edit.version is None and not only_selecting:
            errors[str(edit.id)] = {"version": "required: the version you read"}
            continue
        if edit.version is not None and edit.version != row.version:
            stale.append(edit.id)
            continue
        if row.invoice_id is not None:
            errors[str(edit.id)] = {"id": f"already invoiced (item {row.invoice_id}(S)): remove the invoice first"}
            continue
        values, row_errs = plan_edit(row, edit)
        if "policy_number" in edit.model_fields_set:
            found = matches.get((edit.policy_number or "").strip().upper(), [])
            if len(found) == 1:
                values.update(found[0])
            else:
                row_errs["policy_number"] = (f"{len(found)} policies of {rec.carrier} have this number" if found
                                             else f"no policy of {rec.carrier} has this number")
        if row_errs:
            errors[str(edit.id)] = row_errs
        plans.append(_Planned(row, values, edit.add_rows or 0))
    if stale:
        raise Conflict("rows changed since you read them: nothing was saved", rows=await get_entries(
            tx.session, rec_id, stale), errors=errors)
    if errors:
        raise Invalid("some rows have errors: nothing was saved", errors)
    now = utcnow()
    params = []
    for p in plans:
        full = {f: p.values.get(f, getattr(p.row, f)) for f in (*EDITABLE, *POLICY_FIELDS)}
        selected = p.values.get("selected", p.row.selected)
        newly = selected and not p.row.selected
        params.append({
            "b_id": p.row.id, "b_version": p.row.version, **{f"b_{k}": v for k, v in full.items()},
            "b_selected": selected,
            "b_selected_at": now if newly else (p.row.selected_at if selected else None),
            "b_selected_by": tx.actor if newly else (p.row.selected_by if selected else None),
            "b_updated_at": now,
        })
    if params:
        stmt = update(E).where(E.c.id == bindparam("b_id"), E.c.version == bindparam("b_version")).values(
            **{f: bindparam(f"b_{f}") for f in (*EDITABLE, *POLICY_FIELDS)}, selected=bindparam("b_selected"),
            selected_at=bindparam("b_selected_at"), selected_by=bindparam("b_selected_by"),
            updated_at=bindparam("b_updated_at"), updated_by=tx.actor, version=E.c.version + 1)
        result = await tx.session.execute(stmt, params, execution_options={"synchronize_session": False})
        if result.rowcount is not None and 0 <= result.rowcount < len(params):
            raise Conflict("rows changed while saving: nothing was saved", rows=await get_entries(
                tx.session, rec_id, ids))
    added: list[int] = []
    for p in plans:
        if p.add_rows:
            copies = await duplicate_entry(tx, p.row.id, p.add_rows)
            await tx.audit("statement_entry.added", subject_type="statement_entry", subject_id=str(p.row.id),
                           detail={"reconciliation_id": rec_id, "copies": copies})
            added += copies
    await refresh_status(tx, rec)
    after = (await tx.session.execute(select(E).where(E.c.id.in_(ids)).order_by(E.c.id))).all()
    # before and after as the database holds them (a rate "12%" is stored 0.120000)
    before = {p.row.id: p.row for p in plans}
    for r in after:
        if changes := entry_changes(before[r.id], {f: getattr(r, f) for f in AUDITED}):
            await audit_entry_change(tx, rec_id, r.id, r.version, changes)
    saved = [_saved_json(r) for r in after]
    return await remember(tx, key, rec_id, "save", {"saved": saved, "added_ids": added})


POLICY_FIELDS = ("policy_id", "policy_number", "client_name", "line_of_business")
AUDITED = (*EDITABLE, *POLICY_FIELDS, "selected")


async def _policies_by_number(tx: Transaction, rec: Reconciliation, numbers: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not numbers:
        return {}
    wanted = {n.strip().upper() for n in numbers}
    rows = (await tx.session.execute(select(PV.c.policy_id, PV.c.policy_number, PV.c.client_name,
                                            PV.c.line_of_business).where(
        PV.c.carrier.in_([c for c in (rec.carrier, rec.subordinate_carrier) if c]),
        func.upper(PV.c.policy_number).in_(wanted)))).all()
    found: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        found.setdefault(r.policy_number.upper(), []).append(dict(r._mapping))
    return found


def _saved_json(r: Any) -> dict[str, Any]:
    """A saved row's own values (the full row with its policy and commissions: GET .../entries)."""
    return {"id": r.id, "version": r.version, "selected": r.selected, "policy_id": r.policy_id,
            "policy_number": r.policy_number,
            "selected_at": r.selected_at.isoformat() if r.selected_at else None, "selected_by": r.selected_by,
            "effective_date": r.effective_date.isoformat() if r.effective_date else None,
            "expiration_date": r.expiration_date.isoformat() if r.expiration_date else None,
            "premium_paid": text_or_none(r.premium_paid), "rate_type": r.rate_type, "rate": text_or_none(r.rate),
            "commission_paid": text_or_none(r.commission_paid), "bill_type": r.bill_type}


async def duplicate_entry(tx: Transaction, entry_id: int, count: int) -> list[int]:
    """"Add rows": ``count`` unselected copies of a row, its other-commission lines copied with it."""
    src = (await tx.session.execute(select(E).where(E.c.id == entry_id))).one()
    now = utcnow()
    base = {c: getattr(src, c) for c in [col.name for col in E.c] if c != "id"}
    base.update(source_key=None, duplicate_of=entry_id, selected=False, selected_at=None, selected_by=None,
                duplicate_confirmed_at=None, duplicate_confirmed_by=None, duplicate_held=False,
                version=1, updated_at=now, updated_by=tx.actor)
    new_ids = []
    for _ in range(count):
        new_ids.append((await tx.session.execute(insert(E).values(**base).returning(E.c.id))).scalar_one())
    lines = (await tx.session.execute(select(OC).where(OC.c.entry_id == entry_id))).all()
    if lines:
        copies = [{**{c: getattr(ln, c) for c in [col.name for col in OC.c] if c != "id"}, "entry_id": nid, "created_at": now,
                   "created_by": tx.actor} for nid in new_ids for ln in lines]
        await tx.session.execute(insert(OC), copies)
    return new_ids


async def select_entries(tx: Transaction, rec_id: str, selected: bool, ids: list[int] | None = None,
                         filters: EntryFilters | None = None) -> dict[str, Any]:
    """Select (or unselect) rows: saved at once with a time stamp. ``ids`` or every row the filters
    find (set-based). Invoiced rows are left as they are."""
    rec = await lock(tx, rec_id)
    require_live(rec)
    now = utcnow()
    cond = [E.c.reconciliation_id == rec_id, E.c.selected.is_(not selected),
            entry_not_invoiced()]
    if ids is not None:
        cond.append(E.c.id.in_(ids))
    if filters is not None:
        matching = select(E.c.id).select_from(E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(
            *entry_conditions(rec_id, filters))
        cond.append(E.c.id.in_(matching))
    changed = list((await tx.session.execute(update(E).where(*cond).values(
        selected=selected, selected_at=now if selected else None, selected_by=tx.actor if selected else None,
        version=E.c.version + 1, updated_at=now, updated_by=tx.actor).returning(E.c.id),
        execution_options={"synchronize_session": False})).scalars())
    await audit_bulk_change(tx, rec_id, changed, {"selected": {"before": not selected, "after": selected}},
                            **_how_found(ids, filters))
    await refresh_status(tx, rec)
    return {"changed": len(changed)}


def _how_found(ids: list[int] | None, filters: EntryFilters | None) -> dict[str, Any]:
    """What the operator asked for, beside the rows it touched: the search, or that ids were given."""
    if filters is None:
        return {"by": "ids"} if ids is not None else {}
    given = filters.model_dump(mode="json", exclude_defaults=True)
    # a search for a client's name is recorded as a search by name, without the name
    return {"by": "search", "filters": {k: "given" if k in ("name", "client") else v for k, v in given.items()}}


async def reset_amounts(tx: Transaction, rec_id: str, filters: EntryFilters) -> dict[str, Any]:
    """"Reset premium and commission to zero": every row the search finds except the selected and the
    invoiced (paid) ones gets premium and commission 0.00 (set-based)."""
    rec = await lock(tx, rec_id)
    require_live(rec)
    matching = select(E.c.id).select_from(E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(
        *entry_conditions(rec_id, filters))
    cond = [E.c.reconciliation_id == rec_id, E.c.id.in_(matching), E.c.selected.is_(False), entry_not_invoiced()]
    # each row's earlier amounts are the "after" of its last recorded change (or its statement line)
    before = (await tx.session.execute(select(func.sum(E.c.premium_paid), func.sum(E.c.commission_paid))
                                       .where(*cond))).one()
    reset = list((await tx.session.execute(update(E).where(*cond).values(
        premium_paid=ZERO, commission_paid=ZERO, rate=case((E.c.rate_type == "flat", ZERO), else_=E.c.rate),
        version=E.c.version + 1, updated_at=utcnow(), updated_by=tx.actor).returning(E.c.id),
        execution_options={"synchronize_session": False})).scalars())
    await audit_bulk_change(tx, rec_id, reset, {
        "premium_paid": {"before_total": before[0] or ZERO, "after": ZERO},
        "commission_paid": {"before_total": before[1] or ZERO, "after": ZERO}}, **_how_found(None, filters))
    return {"reset": len(reset)}
