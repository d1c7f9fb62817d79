"""invoicing's use cases: called alike from HTTP routes, the dashboard and event consumers.

Every mutating use case takes a ``Transaction``, first locks the reconciliation's row (``SELECT ...
FOR UPDATE`` on PostgreSQL; SQLite's writers are serialised by ``BEGIN IMMEDIATE``), so stage
changes of one reconciliation never interleave, and writes its events to the outbox with
``tx.emit``. Work over a whole statement is set-based SQL (``INSERT ... SELECT``, ``UPDATE ...
WHERE``); money arithmetic in SQL is only addition, subtraction and comparison of money columns
(exact on both databases), everything else is done by the pure rules in ``domain.commission``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from agency_common.contracts.intake import StatementLinesPublished, StatementPublished, carrier_key
from agency_common.contracts.invoicing import InvoicePosted, PaymentRecorded, ReconciliationChanged
from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.db.types import Money
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from agency_common.validation import NonBlankStr
from pydantic import BaseModel, Field
from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.sql import ColumnElement, Select

from invoicing.carriers import find_carrier
from invoicing.domain.commission import (
    BILL_TYPES,
    DISCREPANCY_TEXT,
    RATE_TYPES,
    Amounts,
    EntryError,
    apply_amount_edit,
    default_bill_type,
    derive_status,
    discrepancy_reasons,
    parse_money,
    parse_rate,
    people_commission_amount,
    row_errors,
)
from invoicing.domain.duplicates import EarlierInvoice, duplicate_message
from invoicing.models import (
    IdempotentRequest,
    Invoice,
    OtherCommission,
    Payment,
    PeopleCommissionDefault,
    PolicyView,
    Reconciliation,
    ReconciliationException,
    StatementChunk,
    StatementEntry,
)

E = StatementEntry.__table__  # type: ignore[attr-defined]
PV = PolicyView.__table__  # type: ignore[attr-defined]
INV = Invoice.__table__  # type: ignore[attr-defined]
OC = OtherCommission.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
EXC = ReconciliationException.__table__  # type: ignore[attr-defined]
REC = Reconciliation.__table__  # type: ignore[attr-defined]
ZERO = Decimal("0.00")
EVENT_CHUNK = 1000
FINAL = ("aborted", "closed")


# -- errors the routes translate ----------------------------------------------------------------
class NotFound(LookupError):
    pass


class Conflict(Exception):
    """409: the state changed under the caller (a stale version, or a stage that forbids it)."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = {"error": message, **detail}


class Invalid(Exception):
    """422: every problem, by row and field; nothing was written."""

    def __init__(self, message: str, errors: dict[str, Any]) -> None:
        super().__init__(message)
        self.detail = {"error": message, "errors": errors}


# -- locking and idempotency --------------------------------------------------------------------
async def lock(tx: Transaction, rec_id: str) -> Reconciliation:
    rec = (await tx.session.execute(
        select(Reconciliation).where(Reconciliation.id == rec_id).with_for_update())).scalar_one_or_none()
    if rec is None:
        raise NotFound(f"reconciliation {rec_id} not found")
    return rec


def require_live(rec: Reconciliation) -> None:
    if rec.status in FINAL:
        raise Conflict(f"reconciliation is {rec.status}", status=rec.status)


async def replay(tx: Transaction, key: str | None, rec_id: str, operation: str) -> dict[str, Any] | None:
    """The stored answer to a request already made with this idempotency key (after the lock)."""
    if not key:
        return None
    done = await tx.session.get(IdempotentRequest, key)
    if done is None:
        return None
    if done.reconciliation_id != rec_id or done.operation != operation:
        raise Conflict("idempotency key already used for another request", key=key)
    return {**json.loads(done.response), "replayed": True}


async def remember(tx: Transaction, key: str | None, rec_id: str, operation: str,
                   response: dict[str, Any]) -> dict[str, Any]:
    if key:
        tx.session.add(IdempotentRequest(key=key, reconciliation_id=rec_id, operation=operation,
                                         response=json.dumps(response, default=str), created_at=utcnow(),
                                         created_by=tx.actor))
        await tx.session.flush()
    return response


# -- header, totals, status ---------------------------------------------------------------------
async def totals(session: Any, rec: Reconciliation) -> dict[str, Any]:
    """The header's figures: one pass over the rows, one over the invoices (grouped by status)."""
    s = session
    ent = (await s.execute(select(
        func.count(), func.sum(case((E.c.selected.is_(True), 1), else_=0)),
        func.sum(case((E.c.selected.is_(True), E.c.commission_paid), else_=None)))
        .where(E.c.reconciliation_id == rec.id))).one()
    entry_count, selected_count, selected_commission = ent[0] or 0, ent[1] or 0, ent[2] or ZERO
    inv = {row.status: row for row in (await s.execute(
        select(INV.c.status, func.count().label("n"), func.sum(INV.c.commission).label("commission"))
        .where(INV.c.reconciliation_id == rec.id).group_by(INV.c.status))).all()}
    exceptions = await s.scalar(select(func.count()).where(
        EXC.c.reconciliation_id == rec.id, EXC.c.status == "open")) or 0
    carried = (await s.execute(select(func.count(), func.sum(INV.c.commission - INV.c.paid_to_date)).where(
        INV.c.carried_to == rec.id, INV.c.status == "posted"))).one()
    statement_total = rec.statement_total if rec.statement_total is not None else selected_commission
    received = rec.received_total or ZERO
    return {
        "statement_total": statement_total,
        "statement_total_source": "statement" if rec.statement_total is not None else "selected rows",
        "received_total": received,
        "difference": round_money(statement_total - received),
        "entry_count": entry_count,
        "selected_count": selected_count,
        "selected_commission": selected_commission,
        "unposted_count": inv["unposted"].n if "unposted" in inv else 0,
        "posted_count": inv["posted"].n if "posted" in inv else 0,
        "paid_count": inv["paid"].n if "paid" in inv else 0,
        "invoiced_commission": sum((r.commission or ZERO for r in inv.values()), ZERO),
        "exception_count": exceptions,
        # posted, unpaid invoices of aborted reconciliations offered here (Transactions – direct bill)
        "carried_count": carried[0] or 0, "carried_balance": carried[1] or ZERO,
    }


async def refresh_status(tx: Transaction, rec: Reconciliation, emit: bool = True) -> dict[str, Any]:
    t = await totals(tx.session, rec)
    rec.status = derive_status(rec.status, unposted=t["unposted_count"], posted_unpaid=t["posted_count"],
                               paid=t["paid_count"])
    rec.version += 1
    rec.updated_at = utcnow()
    rec.updated_by = tx.actor
    await tx.session.flush()
    if emit:
        await tx.emit(ReconciliationChanged(
            reconciliation_id=rec.id, carrier=rec.carrier, status=rec.status, statement_id=rec.statement_id,
            statement_total=t["statement_total"], received_total=t["received_total"],
            difference=t["difference"], entry_count=t["entry_count"], exception_count=t["exception_count"],
            changed_by=tx.actor, changed_at=rec.updated_at))
    return t


def header(rec: Reconciliation, t: dict[str, Any]) -> dict[str, Any]:
    return {**rec.model_dump(mode="json"), **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in t.items()}}


# -- opening ------------------------------------------------------------------------------------
class NewReconciliation(BaseModel):
    entity_type: str = Field(default="carrier", pattern="^carrier$")
    carrier: NonBlankStr = Field(min_length=1, max_length=200)
    subordinate_carrier: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    internal_note: str | None = Field(default=None, max_length=4000)
    statement_total: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)


class HeaderEdit(BaseModel):
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    internal_note: str | None = Field(default=None, max_length=4000)
    statement_total: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)
    version: int | None = None


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


def _mine(rec_id: str) -> ColumnElement[bool]:
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
        _mine(rec.id), INV.c.status.in_(("posted", "paid"))))).scalars().all()
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


# -- statements from intake ---------------------------------------------------------------------
async def _statement_reconciliation(tx: Transaction, statement_id: str, carrier: str | None,
                                    today: date | None = None) -> Reconciliation:
    rec = (await tx.session.execute(select(Reconciliation).where(
        Reconciliation.statement_id == statement_id).with_for_update())).scalar_one_or_none()
    if rec is None:
        now = utcnow()
        rec = Reconciliation(id=str(uuid.uuid4()), number=await next_number(tx.session), carrier=carrier or "",
                             name=carrier or "",
                             statement_id=statement_id, date_booked=today or business_today(), created_at=now,
                             created_by=tx.actor, updated_at=now, updated_by=tx.actor,
                             description=f"Carrier statement {statement_id}")
        tx.session.add(rec)
        await tx.session.flush()
    return rec


async def on_statement_published(tx: Transaction, header_event: StatementPublished,
                                 today: date | None = None) -> None:
    """The statement's header opens (or completes) its reconciliation."""
    rec = await _statement_reconciliation(tx, header_event.statement_id, header_event.carrier, today)
    rec.carrier = header_event.carrier
    rec.name = rec.name or header_event.carrier
    rec.statement_date = header_event.statement_date
    rec.statement_file = header_event.file_name[:300]
    rec.statement_line_count = header_event.line_count
    rec.statement_chunk_count = header_event.chunk_count
    rec.statement_total = round_money(header_event.commission_total)
    rec.description = f"Carrier statement {header_event.file_name}"[:4000]
    if rec.status not in FINAL:
        await carry_stranded_invoices(tx, rec)
    await refresh_status(tx, rec)


def _entry_from_line(rec_id: str, line: Any, now: datetime, actor: str) -> dict[str, Any]:
    rate_type = "percent"
    rate = line.commission_rate
    premium = round_money(line.premium) if line.premium is not None else None
    commission = round_money(line.commission_amount) if line.commission_amount is not None else None
    if rate is not None and rate > 1:  # 15 meaning 15 %
        rate = rate / 100
    if rate is not None:
        rate = rate.quantize(Decimal("0.000001"))
    if commission is None and premium is not None and rate is not None:
        commission = apply_amount_edit(Amounts(premium, "percent", rate, None), rate=rate, rate_given=True).commission
    if rate is None and premium is None and commission is not None:
        rate_type, rate = "flat", commission
    return {
        "reconciliation_id": rec_id, "source_key": f"line:{line.line_id}", "duplicate_of": None,
        "line_no": line.line_no, "policy_id": line.policy_id, "policy_number": line.policy_number[:100],
        "client_name": (line.insured_name or "")[:300] or None, "line_of_business": line.line_of_business,
        "transaction_type": (line.transaction_type or "")[:20] or None, "selected": False,
        "selected_at": None, "selected_by": None, "effective_date": line.effective_date,
        "expiration_date": line.expiration_date, "premium_paid": premium, "rate_type": rate_type, "rate": rate,
        "commission_paid": commission, "bill_type": default_bill_type(line.bill_type, line.transaction_type),
        "version": 1, "updated_at": now, "updated_by": actor,
    }


async def on_statement_lines(tx: Transaction, chunk: StatementLinesPublished, today: date | None = None) -> int:
    """One chunk of lines as statement entries; a chunk applies once however often it arrives."""
    first = await tx.session.execute(insert_ignoring_conflicts(tx.session, StatementChunk.__table__).values(
        statement_id=chunk.statement_id, chunk_no=chunk.chunk_no, line_count=len(chunk.lines),
        received_at=utcnow()))
    if not first.rowcount:
        return 0
    rec = await _statement_reconciliation(tx, chunk.statement_id, None, today)
    if rec.status in FINAL:
        return 0  # a late chunk of a reconciliation already aborted or posted changes nothing
    now = utcnow()
    rows = [_entry_from_line(rec.id, line, now, tx.actor) for line in chunk.lines]
    if rows:
        await tx.session.execute(insert_ignoring_conflicts(tx.session, E), rows)
    received = await tx.session.scalar(select(func.count()).where(
        StatementChunk.__table__.c.statement_id == chunk.statement_id)) or 0
    if received < chunk.chunk_count:
        # more to come: new rows change no stage, so no pass over the totals (100 chunks × 100,000 rows)
        rec.version += 1
        rec.updated_at, rec.updated_by = now, tx.actor
        return len(rows)
    if (rec.statement_line_count or 0) > 1000:
        await analyze(tx, E)
    await refresh_status(tx, rec)  # every chunk is in (in whatever order they came): the header
    return len(rows)


# -- statement entry: search --------------------------------------------------------------------
SORT_FIELDS: dict[str, Any] = {
    "client": lambda: func.coalesce(PV.c.client_name, E.c.client_name),
    "policy_number": lambda: E.c.policy_number,
    "line_of_business": lambda: func.coalesce(PV.c.line_of_business, E.c.line_of_business),
    "effective_date": lambda: E.c.effective_date,
    "expiration_date": lambda: E.c.expiration_date,
    "premium": lambda: E.c.premium_paid,
    "commission": lambda: E.c.commission_paid,
    "mode": lambda: PV.c.mode,
    "status": lambda: PV.c.status,
    "bill_type": lambda: E.c.bill_type,
    "selected_at": lambda: E.c.selected_at,
    "line_no": lambda: E.c.line_no,
}


class EntryFilters(BaseModel):
    """The statement-entry search filters and sorts of seed 003 (query parameters of the API)."""

    business_type: str | None = None
    line_of_business: str | None = None
    include_history: bool = False
    include_selected: bool = True
    branch: str | None = None
    department: str | None = None
    unit: str | None = None
    date_type: str | None = Field(default=None, pattern="^(coverage_effective|policy_effective)$")
    date_from: date | None = None
    date_to: date | None = None
    amount_type: str | None = Field(default=None, pattern="^(premium|commission)$")
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    name: str | None = None
    policy_number: str | None = None
    mode: str | None = None
    status: str | None = None
    client: str | None = None  # quick search: any text of the client name
    policy: str | None = None  # quick search: any part of the policy number
    sort1: str | None = Field(default=None, pattern="^(" + "|".join(SORT_FIELDS) + ")$")
    order1: str = Field(default="asc", pattern="^(asc|desc)$")
    sort2: str | None = Field(default=None, pattern="^(" + "|".join(SORT_FIELDS) + ")$")
    order2: str = Field(default="asc", pattern="^(asc|desc)$")


def _contains(column: Any, text: str) -> ColumnElement[bool]:
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
        c.append(or_(_contains(func.coalesce(PV.c.client_name, E.c.client_name), f.name),
                     _contains(func.coalesce(PV.c.bill_to_name, ""), f.name)))
    if f.client:
        c.append(_contains(func.coalesce(PV.c.client_name, E.c.client_name, ""), f.client))
    if f.policy_number:
        c.append(_contains(E.c.policy_number, f.policy_number))
    if f.policy:
        c.append(_contains(E.c.policy_number, f.policy))
    return c


def entry_order(f: EntryFilters) -> list[Any]:
    order: list[Any] = [E.c.selected.asc()]  # unselected rows first
    for field_name, direction in ((f.sort1, f.order1), (f.sort2, f.order2)):
        if field_name:
            col = SORT_FIELDS[field_name]()
            order.append(col.desc() if direction == "desc" else col.asc())
    order.append(E.c.id.asc())
    return order


def _entries_from() -> Any:
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
        "premium_paid": _s(m["premium_paid"]), "rate_type": m["rate_type"], "rate": _s(m["rate"]),
        "rate_input": rate_input(m["rate_type"], m["rate"]),
        "commission_paid": _s(m["commission_paid"]), "bill_type": m["bill_type"],
        "agency_commission_billed": _s(m["billed_agency_commission"]),
        "agency_commission_estimated": _s(m["estimated_agency_commission"]),
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


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _entry_columns() -> list[Any]:
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
    rows = (await session.execute(select(*_entry_columns()).select_from(_entries_from()).where(
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
            "commission": _s(x.commission), "credit_total": str(x.credit_total),
            "people_total": str(x.people_total), "status": x.status}


# -- statement entry: saving --------------------------------------------------------------------
EDITABLE = ("effective_date", "expiration_date", "premium_paid", "rate_type", "rate", "commission_paid",
            "bill_type")


class EntryEdit(BaseModel):
    """One row of a bulk save: the fields given are the fields the operator changed."""

    id: int
    version: int | None = None  # required unless only (un)selecting
    effective_date: Any = None
    expiration_date: Any = None
    premium_paid: Any = None
    rate_type: Any = None
    rate: Any = None
    commission_paid: Any = None
    bill_type: Any = None
    selected: bool | None = None
    add_rows: int | None = Field(default=None, ge=0, le=100)
    # a row without a known policy (an unmatched statement line) is matched to one of the carrier's
    # policies by its number
    policy_number: str | None = Field(default=None, max_length=100)


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
            added += await duplicate_entry(tx, p.row.id, p.add_rows)
    await refresh_status(tx, rec)
    saved = [_saved_json(r) for r in (await tx.session.execute(
        select(E).where(E.c.id.in_(ids)).order_by(E.c.id))).all()]
    return await remember(tx, key, rec_id, "save", {"saved": saved, "added_ids": added})


POLICY_FIELDS = ("policy_id", "policy_number", "client_name", "line_of_business")


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
            "premium_paid": _s(r.premium_paid), "rate_type": r.rate_type, "rate": _s(r.rate),
            "commission_paid": _s(r.commission_paid), "bill_type": r.bill_type}


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
            _not_invoiced()]
    if ids is not None:
        cond.append(E.c.id.in_(ids))
    if filters is not None:
        matching = select(E.c.id).select_from(E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(
            *entry_conditions(rec_id, filters))
        cond.append(E.c.id.in_(matching))
    result = await tx.session.execute(update(E).where(*cond).values(
        selected=selected, selected_at=now if selected else None, selected_by=tx.actor if selected else None,
        version=E.c.version + 1, updated_at=now, updated_by=tx.actor), execution_options={"synchronize_session": False})
    await refresh_status(tx, rec)
    return {"changed": result.rowcount or 0}


async def reset_amounts(tx: Transaction, rec_id: str, filters: EntryFilters) -> dict[str, Any]:
    """"Reset premium and commission to zero": every row the search finds except the selected and the
    invoiced (paid) ones gets premium and commission 0.00 (set-based)."""
    rec = await lock(tx, rec_id)
    require_live(rec)
    matching = select(E.c.id).select_from(E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(
        *entry_conditions(rec_id, filters))
    result = await tx.session.execute(update(E).where(
        E.c.reconciliation_id == rec_id, E.c.id.in_(matching), E.c.selected.is_(False),
        _not_invoiced()).values(
        premium_paid=ZERO, commission_paid=ZERO, rate=case((E.c.rate_type == "flat", ZERO), else_=E.c.rate),
        version=E.c.version + 1, updated_at=utcnow(), updated_by=tx.actor),
        execution_options={"synchronize_session": False})
    return {"reset": result.rowcount or 0}


# -- other (people) commissions -----------------------------------------------------------------
class OtherCommissionIn(BaseModel):
    employee: str = Field(min_length=1, max_length=200)
    production_role: str | None = Field(default=None, max_length=50)
    production_credit: str | None = None
    rate_type: str | None = None
    rate: str | None = None
    commission_on: str | None = None  # comes from the policy: any other value is refused
    level_lob: str | None = None  # comes from the policy: any other value is refused


COMMISSION_ON = "agency commission"


async def add_other_commission(tx: Transaction, rec_id: str, entry_id: int, data: OtherCommissionIn) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    require_live(rec)
    row = (await tx.session.execute(select(E, PV.c.line_of_business.label("pv_lob")).select_from(
        E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(
        E.c.id == entry_id, E.c.reconciliation_id == rec_id))).one_or_none()
    if row is None:
        raise NotFound(f"row {entry_id} not found")
    if await tx.session.scalar(select(INV.c.id).where(INV.c.entry_id == entry_id)):
        raise Conflict("row already invoiced")
    level = row.pv_lob or row.line_of_business
    errors: dict[str, str] = {}
    if data.commission_on and data.commission_on != COMMISSION_ON:
        errors["commission_on"] = f"comes from the policy ({COMMISSION_ON}) and cannot be changed"
    if data.level_lob and data.level_lob != level:
        errors["level_lob"] = f"comes from the policy ({level}) and cannot be changed"
    default = (await tx.session.execute(select(PeopleCommissionDefault).where(
        PeopleCommissionDefault.carrier == rec.carrier,
        PeopleCommissionDefault.employee == data.employee))).scalar_one_or_none()
    role = data.production_role or (default.production_role if default else None)
    rate_type = data.rate_type or (default.rate_type if default else None)
    if not role:
        errors["production_role"] = "required (no default for this employee and carrier)"
    if rate_type not in RATE_TYPES:
        errors["rate_type"] = f"must be one of {', '.join(RATE_TYPES)}"
        rate_type = "percent"
    try:
        rate = parse_rate(data.rate, rate_type) if data.rate not in (None, "") else (default.rate if default else None)
        if rate is None:
            errors["rate"] = "required (no default for this employee and carrier)"
    except EntryError as exc:
        errors["rate"], rate = exc.message, None
    try:
        credit = parse_money(data.production_credit, "production_credit")
    except EntryError as exc:
        errors["production_credit"], credit = exc.message, None
    if credit is None and "production_credit" not in errors:
        commission = row.commission_paid or ZERO
        share = default.credit_share if default and default.credit_share is not None else Decimal(1)
        credit = round_money(commission * share)
    if errors:
        raise Invalid("the other commission has errors", {"other_commission": errors})
    assert credit is not None and rate is not None and role is not None
    values = {"reconciliation_id": rec_id, "entry_id": entry_id, "employee": data.employee, "production_role": role,
              "commission_on": COMMISSION_ON, "level_lob": level, "production_credit": credit,
              "rate_type": rate_type, "rate": rate, "amount": people_commission_amount(credit, rate_type, rate),
              "created_at": utcnow(), "created_by": tx.actor}
    new_id = (await tx.session.execute(insert(OC).values(**values).returning(OC.c.id))).scalar_one()
    await tx.session.execute(update(E).where(E.c.id == entry_id).values(version=E.c.version + 1))
    return other_json((await tx.session.execute(select(OC).where(OC.c.id == new_id))).one())


async def remove_other_commission(tx: Transaction, rec_id: str, other_id: int) -> None:
    rec = await lock(tx, rec_id)
    require_live(rec)
    oc = (await tx.session.execute(select(OC).where(OC.c.id == other_id, OC.c.reconciliation_id == rec_id))).one_or_none()
    if oc is None:
        raise NotFound(f"other commission {other_id} not found")
    if await tx.session.scalar(select(INV.c.id).where(INV.c.entry_id == oc.entry_id)):
        raise Conflict("row already invoiced")
    await tx.session.execute(delete(OC).where(OC.c.id == other_id))
    await tx.session.execute(update(E).where(E.c.id == oc.entry_id).values(version=E.c.version + 1))


class PeopleDefaultIn(BaseModel):
    production_role: str = Field(min_length=1, max_length=50)
    rate_type: str = Field(pattern="^(percent|flat)$")
    rate: str
    credit_share: str | None = None


async def set_people_default(tx: Transaction, carrier: str, employee: str, data: PeopleDefaultIn) -> dict[str, Any]:
    known = await find_carrier(tx.session, carrier)
    if known is None:
        raise Invalid(f"carrier {carrier!r} is not registered", {
            "carrier": f"{carrier!r} is not registered: pick a carrier registered under intake's Carriers"})
    carrier = known.name
    try:
        rate = parse_rate(data.rate, data.rate_type)
        share = parse_rate(data.credit_share, "percent", "credit_share") if data.credit_share else None
    except EntryError as exc:
        raise Invalid("invalid default", {exc.field: exc.message}) from None
    current = (await tx.session.execute(select(PeopleCommissionDefault).where(
        PeopleCommissionDefault.carrier == carrier, PeopleCommissionDefault.employee == employee))).scalar_one_or_none()
    if current is None:
        current = PeopleCommissionDefault(carrier=carrier, employee=employee, production_role=data.production_role,
                                          rate_type=data.rate_type, rate=rate, credit_share=share,
                                          updated_at=utcnow(), updated_by=tx.actor)
        tx.session.add(current)
    else:
        current.production_role, current.rate_type, current.rate = data.production_role, data.rate_type, rate
        current.credit_share, current.updated_at, current.updated_by = share, utcnow(), tx.actor
    await tx.session.flush()
    return current.model_dump(mode="json")


# -- invoices -----------------------------------------------------------------------------------
def _valid_row() -> ColumnElement[bool]:
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
    pending = _pending(rec_id, id_range, not_invoiced=False)
    await tx.session.execute(update(E).where(*pending, E.c.duplicate_held.is_(True), ~_held_back(rec_id)).values(
        duplicate_held=False), execution_options={"synchronize_session": False})
    await tx.session.execute(update(E).where(*pending, E.c.duplicate_held.is_(False), _held_back(rec_id)).values(
        duplicate_held=True), execution_options={"synchronize_session": False})


async def held_back_count(session: Any, rec_id: str) -> int:
    """Selected, valid, not invoiced rows left out as duplicates (the count the operator is told)."""
    return await session.scalar(select(func.count()).select_from(E).where(
        *_pending(rec_id), _valid_row(), E.c.duplicate_held.is_(True))) or 0


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


class DuplicateConfirmation(BaseModel):
    """Confirm rows flagged as already invoiced or paid elsewhere (they are then invoiced again):
    ``ids``, or every selected flagged row (``selection``); ``confirmed=False`` withdraws it."""

    ids: list[int] | None = Field(default=None, max_length=1000)
    selection: bool = False
    confirmed: bool = True


async def confirm_duplicates(tx: Transaction, rec_id: str, data: DuplicateConfirmation) -> dict[str, Any]:
    """Record who confirmed (set-based); only flagged, not yet invoiced rows change."""
    rec = await lock(tx, rec_id)
    require_live(rec)
    if data.ids is None and not data.selection:
        raise Invalid("nothing to confirm", {"ids": "give the rows, or selection: true"})
    cond = [E.c.reconciliation_id == rec_id, _not_invoiced(), _duplicate(rec_id)]
    cond.append(E.c.id.in_(data.ids) if data.ids is not None else E.c.selected.is_(True))
    now = utcnow()
    result = await tx.session.execute(update(E).where(*cond).values(
        duplicate_confirmed_at=now if data.confirmed else None,
        duplicate_confirmed_by=tx.actor if data.confirmed else None, duplicate_held=False,
        version=E.c.version + 1, updated_at=now, updated_by=tx.actor),
        execution_options={"synchronize_session": False})
    return {"changed": result.rowcount or 0, "confirmed": data.confirmed}


def _not_invoiced() -> ColumnElement[bool]:
    inv = INV.alias("inv_done")
    return ~exists().where(inv.c.entry_id == E.c.id).correlate_except(inv)


def _pending(rec_id: str, id_range: tuple[int, int] | None = None,
             not_invoiced: bool = True) -> list[ColumnElement[bool]]:
    cond = [E.c.reconciliation_id == rec_id, E.c.selected.is_(True)]
    if not_invoiced:
        cond.append(_not_invoiced())
    if id_range:
        cond += [E.c.id >= id_range[0], E.c.id <= id_range[1]]
    return cond


async def detect_exceptions(tx: Transaction, rec_id: str, id_range: tuple[int, int] | None = None) -> list[int]:
    """Record the production-credit discrepancies of the selected, not yet invoiced rows (the rule
    of ``domain.commission.discrepancy_reasons`` on totals the database aggregates)."""
    opposite = func.sum(case((or_(and_(OC.c.production_credit > 0, E.c.commission_paid < 0),
                                  and_(OC.c.production_credit < 0, E.c.commission_paid > 0)), 1), else_=0))
    rows = (await tx.session.execute(
        select(E.c.id, E.c.commission_paid, func.sum(OC.c.production_credit).label("credit"),
               func.sum(OC.c.amount).label("people"), opposite.label("opposite"))
        .select_from(E.join(OC, OC.c.entry_id == E.c.id)).where(*_pending(rec_id, id_range))
        .group_by(E.c.id, E.c.commission_paid))).all()
    now = utcnow()
    found = []
    stale = [EXC.c.reconciliation_id == rec_id, EXC.c.status == "open"]
    if id_range:
        stale += [EXC.c.entry_id >= id_range[0], EXC.c.entry_id <= id_range[1]]
    await tx.session.execute(delete(EXC).where(*stale))
    records = []
    for r in rows:
        reasons = discrepancy_reasons(r.commission_paid, r.credit or ZERO, r.people or ZERO, bool(r.opposite))
        if reasons:
            found.append(r.id)
            records.append({"reconciliation_id": rec_id, "entry_id": r.id, "reasons": ",".join(reasons),
                            "commission": r.commission_paid, "credit_total": r.credit or ZERO,
                            "people_total": r.people or ZERO, "status": "open", "detected_at": now,
                            "detected_by": tx.actor})
    if records:
        await tx.session.execute(delete(EXC).where(EXC.c.reconciliation_id == rec_id,
                                                   EXC.c.entry_id.in_([r["entry_id"] for r in records])))
        await tx.session.execute(insert(EXC), records)
    return found


async def _insert_invoices(tx: Transaction, rec_id: str, id_range: tuple[int, int] | None,
                           exclude_exceptions: bool, run_id: str | None = None) -> int:
    now = utcnow()
    people = select(func.coalesce(func.sum(OC.c.amount), literal(ZERO, Money()))).where(
        OC.c.entry_id == E.c.id).scalar_subquery()
    # No anti-join against the table being filled (on PostgreSQL its heap grows under the scan):
    # a row already invoiced is skipped by the unique entry_id instead.
    cond = [*_pending(rec_id, id_range, not_invoiced=False), _valid_row()]
    if exclude_exceptions:
        cond.append(~exists().where(EXC.c.entry_id == E.c.id, EXC.c.reconciliation_id == rec_id,
                                    EXC.c.status == "open"))
    await hold_back_duplicates(tx, rec_id, id_range)
    cond.append(E.c.duplicate_held.is_(False))  # the same line already invoiced elsewhere, not confirmed
    source = select(
        E.c.reconciliation_id, E.c.id, E.c.policy_id, E.c.policy_number,
        func.coalesce(PV.c.client_name, E.c.client_name), func.coalesce(PV.c.line_of_business, E.c.line_of_business),
        E.c.bill_type, E.c.effective_date, E.c.expiration_date,
        func.coalesce(E.c.premium_paid, literal(ZERO, Money())), E.c.rate_type, E.c.rate, E.c.commission_paid, people,
        literal("unposted"), literal(ZERO, Money()), literal(False), literal(run_id, INV.c.run_id.type),
        literal(now, INV.c.created_at.type), literal(tx.actor),
    ).select_from(E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(*cond)
    result = await tx.session.execute(insert_ignoring_conflicts(tx.session, INV).from_select(
        ["reconciliation_id", "entry_id", "policy_id", "policy_number", "client_name", "line_of_business",
         "bill_type", "effective_date", "expiration_date", "premium", "rate_type", "rate", "commission",
         "people_commission_total", "status", "paid_to_date", "pay_selected", "run_id", "created_at",
         "created_by"], source))
    created = result.rowcount or 0
    if created > 1000:
        await analyze(tx, INV)
    return created


async def analyze(tx: Transaction, *tables: Any) -> None:
    """Fresh planner statistics after a bulk change on PostgreSQL (autovacuum comes later: until
    then the planner believes a table just filled with 100,000 rows is empty)."""
    if tx.session.bind.dialect.name == "postgresql":
        for table in tables:
            await tx.session.execute(text(f"ANALYZE {table.name}"))


async def _invalid_rows(tx: Transaction, rec_id: str, limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    cond = [*_pending(rec_id), ~_valid_row()]
    count = await tx.session.scalar(select(func.count()).select_from(E).where(*cond)) or 0
    rows = (await tx.session.execute(select(*_entry_columns()).select_from(_entries_from()).where(*cond)
                                     .order_by(E.c.id).limit(limit))).all()
    return count, [{"id": r.id, "policy_number": r.policy_number, "errors": entry_json(r, [], None)["errors"]}
                   for r in rows]


async def create_invoices(tx: Transaction, rec_id: str, key: str | None = None,
                          id_range: tuple[int, int] | None = None, remember_key: bool = True) -> dict[str, Any]:
    """Create Invoices: an unposted invoice per selected, valid row; rows with a production-credit
    discrepancy are recorded as exceptions and left in statement entry."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "create-invoices")) is not None:
        return done
    require_live(rec)
    exceptions = await detect_exceptions(tx, rec_id, id_range)
    created = await _insert_invoices(tx, rec_id, id_range, exclude_exceptions=True)
    invalid_count, invalid = await _invalid_rows(tx, rec_id) if id_range is None else (0, [])
    duplicates = await held_back_count(tx.session, rec_id) if id_range is None else 0
    t = await refresh_status(tx, rec)
    response = {"created": created, "exceptions": len(exceptions), "exception_entry_ids": exceptions[:1000],
                "invalid": invalid_count, "invalid_rows": invalid, "duplicates_excluded": duplicates,
                "reconciliation": header(rec, t)}
    return await remember(tx, key, rec_id, "create-invoices", response) if remember_key else response


async def pending_id_bounds(session: Any, rec_id: str) -> tuple[int, int, int]:
    row = (await session.execute(select(func.min(E.c.id), func.max(E.c.id), func.count()).where(
        *_pending(rec_id)))).one()
    return row[0] or 0, row[1] or 0, row[2] or 0


async def remove_invoice(tx: Transaction, rec_id: str, invoice_id: int) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    require_live(rec)
    status = await tx.session.scalar(select(INV.c.status).where(INV.c.id == invoice_id,
                                                                INV.c.reconciliation_id == rec_id))
    if status is None:
        raise NotFound(f"invoice {invoice_id} not found")
    if status != "unposted":
        raise Conflict("only unposted invoices can be removed", invoice_status=status)
    await tx.session.execute(delete(INV).where(INV.c.id == invoice_id))
    return header(rec, await refresh_status(tx, rec))


def _posted_event(r: Any) -> InvoicePosted:
    return InvoicePosted(invoice_id=str(r.id), reconciliation_id=r.reconciliation_id, policy_id=r.policy_id,
                         bill_type=r.bill_type, effective_date=r.effective_date, expiration_date=r.expiration_date,
                         premium=r.premium, commission=r.commission)


async def post_invoices(tx: Transaction, rec_id: str, invoice_ids: list[int] | None = None,
                        key: str | None = None) -> dict[str, Any]:
    """Post Invoices: unposted → posted (direct-bill transactions), one InvoicePosted event each."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "post")) is not None:
        return done
    require_live(rec)
    posted = await _post(tx, rec_id, invoice_ids)
    t = await refresh_status(tx, rec)
    return await remember(tx, key, rec_id, "post", {"posted": posted, "reconciliation": header(rec, t)})


def _unposted(rec_id: str) -> list[ColumnElement[bool]]:
    return [INV.c.reconciliation_id == rec_id, INV.c.status == "unposted"]


def _direct_bill(rec_id: str) -> list[ColumnElement[bool]]:
    """This reconciliation's own invoices not carried elsewhere, and those carried to it."""
    return [or_(and_(INV.c.reconciliation_id == rec_id, INV.c.carried_to.is_(None)), INV.c.carried_to == rec_id)]


def _pay_selection(rec_id: str) -> list[ColumnElement[bool]]:
    return [*_direct_bill(rec_id), INV.c.pay_selected.is_(True), INV.c.received.is_not(None),
            INV.c.status.in_(("posted", "paid"))]


async def invoice_id_bounds(session: Any, cond: list[ColumnElement[bool]]) -> tuple[int, int, int]:
    row = (await session.execute(select(func.min(INV.c.id), func.max(INV.c.id), func.count()).where(*cond))).one()
    return row[0] or 0, row[1] or 0, row[2] or 0


async def _post(tx: Transaction, rec_id: str, invoice_ids: list[int] | None, run_id: str | None = None,
                id_range: tuple[int, int] | None = None) -> int:
    cond = _unposted(rec_id)
    if invoice_ids is not None:
        cond.append(INV.c.id.in_(invoice_ids))
    if run_id is not None:
        cond.append(INV.c.run_id == run_id)
    if id_range is not None:
        cond += [INV.c.id >= id_range[0], INV.c.id <= id_range[1]]
    rows = (await tx.session.execute(select(INV.c.id, INV.c.reconciliation_id, INV.c.policy_id, INV.c.bill_type,
                                            INV.c.effective_date, INV.c.expiration_date, INV.c.premium,
                                            INV.c.commission).where(*cond).order_by(INV.c.id))).all()
    if not rows:
        return 0
    now = utcnow()
    await tx.session.execute(update(INV).where(*cond).values(status="posted", posted_at=now, posted_by=tx.actor),
                             execution_options={"synchronize_session": False})
    for i in range(0, len(rows), EVENT_CHUNK):
        await tx.emit_many(_posted_event(r) for r in rows[i:i + EVENT_CHUNK])
    return len(rows)


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
    return await remember(tx, key, rec_id, "close", {"reconciliation": header(rec, t)})


# -- direct-bill transactions and payment -------------------------------------------------------
class TransactionEdit(BaseModel):
    invoice_id: int
    selected: bool
    received: str | None = None  # editable; selecting without a value fills it with the balance
    # what the operator saw: when given and no longer true, nothing is saved (409 with the rows now)
    seen_selected: bool | None = None
    seen_received: str | None = None  # "" for none
    seen_paid_to_date: str | None = None


async def edit_transactions(tx: Transaction, rec_id: str, edits: list[TransactionEdit]) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    require_live(rec)
    rows = {r.id: r for r in (await tx.session.execute(select(INV).where(
        _mine(rec_id), INV.c.id.in_([e.invoice_id for e in edits])))).all()}
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
    cond = [*_direct_bill(rec_id), INV.c.status == "posted"]
    if filters is not None:
        found = select(INV.c.id).select_from(INV.outerjoin(PV, PV.c.policy_id == INV.c.policy_id)).where(
            *invoice_conditions(rec_id, ("posted",), filters))
        cond.append(INV.c.id.in_(found))
    if selected:
        cond.append(or_(INV.c.pay_selected.is_(False), INV.c.received.is_(None)))
    result = await tx.session.execute(update(INV).where(*cond).values(
        pay_selected=selected, received=(INV.c.commission - INV.c.paid_to_date) if selected else None),
        execution_options={"synchronize_session": False})
    return {"changed": result.rowcount or 0}


async def selection_totals(session: Any, rec_id: str) -> dict[str, Any]:
    """What Pay All Selected would pay, over every page: "N selected (total $X)"."""
    row = (await session.execute(select(func.count(), func.sum(INV.c.received)).where(
        *_pay_selection(rec_id)))).one()
    return {"selected_count": row[0] or 0, "selected_total": str(row[1] or ZERO)}


async def pay_selected(tx: Transaction, rec_id: str, key: str | None = None) -> dict[str, Any]:
    """Pay All Selected: the received amounts become payments (set-based), the header is updated."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "pay")) is not None:
        return done
    require_live(rec)
    paid = await _pay(tx, rec)
    t = await refresh_status(tx, rec)
    return await remember(tx, key, rec_id, "pay", {**paid, "reconciliation": header(rec, t)})


async def _pay(tx: Transaction, rec: Reconciliation, run_id: str | None = None,
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
        cond = [*_pay_selection(rec.id), *within]
    now = utcnow()
    total = await tx.session.scalar(select(func.sum(INV.c.received)).where(*cond)) or ZERO
    ids = list((await tx.session.execute(select(INV.c.id).where(*cond).order_by(INV.c.id))).scalars())
    if not ids:
        return {"paid": 0, "received_total": "0.00"}
    await tx.session.execute(insert(PAY).from_select(
        ["reconciliation_id", "invoice_id", "amount", "paid_at", "paid_by"],
        select(literal(rec.id), INV.c.id, INV.c.received, literal(now, PAY.c.paid_at.type),
               literal(tx.actor)).where(*cond)))
    await tx.session.execute(update(INV).where(*cond).values(
        paid_to_date=INV.c.paid_to_date + INV.c.received,
        status=case((INV.c.commission - INV.c.paid_to_date - INV.c.received == 0, "paid"), else_="posted"),
        pay_selected=False, received=None), execution_options={"synchronize_session": False})
    rec.received_total = round_money((rec.received_total or ZERO) + total)
    for i in range(0, len(ids), EVENT_CHUNK):
        part = ids[i:i + EVENT_CHUNK]
        part_total = total if len(ids) <= EVENT_CHUNK else await tx.session.scalar(
            select(func.sum(PAY.c.amount)).where(PAY.c.invoice_id.in_(part), PAY.c.paid_at == now)) or ZERO
        await tx.emit(PaymentRecorded(reconciliation_id=rec.id, invoice_ids=[str(x) for x in part],
                                      received_total=part_total, paid_by=tx.actor, paid_at=now))
    return {"paid": len(ids), "received_total": str(total)}


# -- Create/Pay All and the exceptions popup ----------------------------------------------------
DECISIONS = ("create_pay", "create_pay_post", "cancel", "abort")


async def create_pay_all(tx: Transaction, rec_id: str, decision: str | None = None,
                         key: str | None = None) -> dict[str, Any]:
    """Create/Pay All for the selected rows. Without exceptions the invoices are created, posted and
    flagged received. With exceptions nothing happens until the operator decides (the popup):
    ``create_pay`` and ``create_pay_post`` create, post and pay the rows that are not exceptions
    (``create_pay_post`` then offers posting the reconciliation: ``next = "post"``), ``cancel``
    returns to the reconciliation unchanged, ``abort`` aborts the reconciliation."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "create-pay-all")) is not None:
        return done
    require_live(rec)
    if decision is not None and decision not in DECISIONS:
        raise Invalid("unknown decision", {"decision": f"one of {', '.join(DECISIONS)}"})
    if decision == "cancel":
        return {"outcome": "cancelled", "reconciliation": header(rec, await totals(tx.session, rec))}
    if decision == "abort":
        result = await _abort(tx, rec)
        return await remember(tx, key, rec_id, "create-pay-all", {"outcome": "aborted", **result})
    exceptions = await detect_exceptions(tx, rec_id)
    if exceptions and decision is None:
        rows = await exception_rows(tx.session, rec_id, limit=500)
        return {"outcome": "exceptions", "exception_count": len(exceptions), "exceptions": rows,
                "options": ["create_pay", "create_pay_post", "cancel", "abort"],
                "reconciliation": header(rec, await totals(tx.session, rec))}
    run_id = str(uuid.uuid4())
    created = await _insert_invoices(tx, rec_id, None, exclude_exceptions=True, run_id=run_id)
    posted = await _post(tx, rec_id, None, run_id=run_id)
    paid = await _pay(tx, rec, run_id=run_id)
    invalid_count, invalid = await _invalid_rows(tx, rec_id)
    duplicates = await held_back_count(tx.session, rec_id)
    t = await refresh_status(tx, rec)
    response = {"outcome": "done", "created": created, "posted": posted, **paid, "exception_count": len(exceptions),
                "invalid": invalid_count, "invalid_rows": invalid, "duplicates_excluded": duplicates,
                "next": "post" if decision == "create_pay_post" else "direct_bill",
                "reconciliation": header(rec, t)}
    return await remember(tx, key, rec_id, "create-pay-all", response)


async def exception_rows(session: Any, rec_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    stmt = (select(EXC, E.c.policy_number, func.coalesce(PV.c.client_name, E.c.client_name).label("client"),
                   E.c.premium_paid, E.c.bill_type, E.c.effective_date)
            .select_from(EXC.join(E, E.c.id == EXC.c.entry_id).outerjoin(PV, PV.c.policy_id == E.c.policy_id))
            .where(EXC.c.reconciliation_id == rec_id, EXC.c.status == "open").order_by(EXC.c.entry_id))
    if limit:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    return [{**exception_json(r), "policy_number": r.policy_number, "client_name": r.client,
             "premium_paid": _s(r.premium_paid), "bill_type": r.bill_type,
             "effective_date": r.effective_date.isoformat() if r.effective_date else None} for r in rows]


# -- abort --------------------------------------------------------------------------------------
async def abort(tx: Transaction, rec_id: str, key: str | None = None) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "abort")) is not None:
        return done
    if rec.status == "aborted":
        return {"outcome": "already aborted", "reconciliation": header(rec, await totals(tx.session, rec))}
    require_live(rec)
    return await remember(tx, key, rec_id, "abort", await _abort(tx, rec))


async def _abort(tx: Transaction, rec: Reconciliation) -> dict[str, Any]:
    """Abort, by stage (seed 003): before posting, the invoices are removed (none is created from
    here on); after posting, the reconciliation is aborted and its invoices stay posted, but are not
    reconciled: this reconciliation's payments are voided and pending received amounts cleared."""
    stage = rec.status
    removed = (await tx.session.execute(delete(INV).where(
        INV.c.reconciliation_id == rec.id, INV.c.status == "unposted"))).rowcount or 0
    voided = ZERO
    payments = (await tx.session.execute(select(PAY.c.invoice_id, func.sum(PAY.c.amount).label("amount")).where(
        PAY.c.reconciliation_id == rec.id, PAY.c.voided_at.is_(None)).group_by(PAY.c.invoice_id))).all()
    now = utcnow()
    if payments:
        await tx.session.execute(update(INV).where(INV.c.id == bindparam("b_id")).values(
            paid_to_date=INV.c.paid_to_date - bindparam("b_amount", type_=Money()), status="posted"),
            [{"b_id": p.invoice_id, "b_amount": p.amount} for p in payments],
            execution_options={"synchronize_session": False})
        await tx.session.execute(update(PAY).where(PAY.c.reconciliation_id == rec.id, PAY.c.voided_at.is_(None))
                                 .values(voided_at=now))
        voided = sum((p.amount for p in payments), ZERO)
        for i in range(0, len(payments), EVENT_CHUNK):
            part = payments[i:i + EVENT_CHUNK]
            await tx.emit(PaymentRecorded(reconciliation_id=rec.id, invoice_ids=[str(p.invoice_id) for p in part],
                                          received_total=-sum((p.amount for p in part), ZERO), paid_by=tx.actor,
                                          paid_at=now))
    offered = await abort_preview(tx.session, rec)  # the same words as the confirmation dialog
    await tx.session.execute(update(INV).where(_mine(rec.id)).values(
        pay_selected=False, received=None))
    kept = await tx.session.scalar(select(func.count()).where(
        INV.c.reconciliation_id == rec.id, INV.c.status.in_(("posted", "paid")))) or 0
    rec.received_total = round_money((rec.received_total or ZERO) - voided)
    rec.status, rec.aborted_at, rec.aborted_by, rec.aborted_stage = "aborted", now, tx.actor, stage
    t = await refresh_status(tx, rec)
    return {"aborted_stage": stage, "invoices_removed": removed, "invoices_kept_posted": kept,
            "payments_voided": len(payments), "voided_total": str(voided),
            "offered_to_next": {"count": offered["count"], "balance": str(offered["balance"]),
                                "message": offered["sentence"]},
            "reconciliation": header(rec, t)}


# -- invoices and transactions lists ------------------------------------------------------------
class InvoiceFilters(BaseModel):
    business_type: str | None = None
    line_of_business: str | None = None
    bill_type: str | None = None
    branch: str | None = None
    department: str | None = None
    unit: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount_type: str | None = Field(default=None, pattern="^(premium|commission)$")
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    name: str | None = None
    policy_number: str | None = None
    item_id: str | None = None
    mode: str | None = None
    sort1: str | None = Field(default=None, pattern="^(date|item_id|bill_type|client|policy_number|line_of_business|premium|commission)$")
    order1: str = Field(default="asc", pattern="^(asc|desc)$")
    sort2: str | None = Field(default=None, pattern="^(date|item_id|bill_type|client|policy_number|line_of_business|premium|commission)$")
    order2: str = Field(default="asc", pattern="^(asc|desc)$")


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
        .where(_mine(rec_id), INV.c.id.in_(ids)).order_by(INV.c.id))).all()
    return [invoice_json(r) for r in rows]


def invoice_conditions(rec_id: str, statuses: tuple[str, ...], f: InvoiceFilters) -> list[ColumnElement[bool]]:
    """The invoices of a list (joined with their policy): unposted ones are the reconciliation's
    own; posted and paid ones include those carried to it from aborted reconciliations."""
    cond: list[Any] = [_mine(rec_id) if statuses != ("unposted",) else INV.c.reconciliation_id == rec_id,
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
        cond.append(or_(_contains(func.coalesce(INV.c.client_name, ""), f.name),
                        _contains(func.coalesce(PV.c.bill_to_name, ""), f.name)))
    if f.policy_number:
        cond.append(_contains(INV.c.policy_number, f.policy_number))
    if f.item_id:
        digits = "".join(ch for ch in f.item_id if ch.isdigit())
        cond.append(INV.c.id == int(digits) if digits else literal(False))
    return cond


def invoice_json(r: Any) -> dict[str, Any]:
    from invoicing.domain.commission import percent_of_agency

    balance = round_money(r.commission - r.paid_to_date)
    m = r._mapping
    return {
        "id": r.id, "item_id": f"{r.id}(S)", "entry_id": r.entry_id, "status": r.status,
        "date": r.effective_date.isoformat() if r.effective_date else None,
        "expiration_date": r.expiration_date.isoformat() if r.expiration_date else None,
        "bill_type": r.bill_type, "client_name": r.client_name,
        "bill_to_name": m.get("bill_to_name") if m.get("bill_to_name") != r.client_name else None,
        "policy_id": r.policy_id, "policy_number": r.policy_number, "line_of_business": r.line_of_business,
        "premium": str(r.premium), "rate_type": r.rate_type, "rate": _s(r.rate),
        "rate_display": rate_input(r.rate_type, r.rate), "commission": str(r.commission),
        "people_commission_total": str(r.people_commission_total),
        "people_percent_of_agency": _s(percent_of_agency(r.people_commission_total, r.commission)),
        "paid_to_date": str(r.paid_to_date), "balance": str(balance), "selected": r.pay_selected,
        "received": _s(r.received),
        "new_balance": str(round_money(balance - (r.received or ZERO))),
        "posted_at": r.posted_at.isoformat() if r.posted_at else None, "posted_by": r.posted_by,
        "carried_to": r.carried_to,
        "carried_from": ({"reconciliation_id": r.reconciliation_id, "reconciliation_number": m.get("home_number")}
                         if r.carried_to else None),
    }


# -- policy read model hooks --------------------------------------------------------------------
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

