"""Invoices: exceptions detection, create, remove, post (set-based, by id range for the stages)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.invoicing import InvoicePosted, InvoicesPosted, PostedInvoice
from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.db.types import Money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import and_, case, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.sql import ColumnElement

from invoicing.domain.commission import (
    discrepancy_reasons,
)
from invoicing.errors import Conflict, NotFound
from invoicing.reconciliations.locking import lock, remember, replay, require_live
from invoicing.reconciliations.status import header, refresh_status
from invoicing.statement_entry.duplicates import (
    held_back_count,
    hold_back_duplicates,
    pending_rows,
    valid_row,
)
from invoicing.statement_entry.queries import entries_from, entry_columns, entry_json
from invoicing.tables import ANALYZE_AFTER, EXC, INV, OC, PV, ZERO, E, analyze


async def detect_exceptions(tx: Transaction, rec_id: str, id_range: tuple[int, int] | None = None) -> list[int]:
    """Record the production-credit discrepancies of the selected, not yet invoiced rows (the rule
    of ``domain.commission.discrepancy_reasons`` on totals the database aggregates)."""
    opposite = func.sum(case((or_(and_(OC.c.production_credit > 0, E.c.commission_paid < 0),
                                  and_(OC.c.production_credit < 0, E.c.commission_paid > 0)), 1), else_=0))
    rows = (await tx.session.execute(
        select(E.c.id, E.c.commission_paid, func.sum(OC.c.production_credit).label("credit"),
               func.sum(OC.c.amount).label("people"), opposite.label("opposite"))
        .select_from(E.join(OC, OC.c.entry_id == E.c.id)).where(*pending_rows(rec_id, id_range))
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


async def insert_invoices(tx: Transaction, rec_id: str, id_range: tuple[int, int] | None,
                           exclude_exceptions: bool, run_id: str | None = None) -> int:
    now = utcnow()
    people = select(func.coalesce(func.sum(OC.c.amount), literal(ZERO, Money()))).where(
        OC.c.entry_id == E.c.id).scalar_subquery()
    # No anti-join against the table being filled (on PostgreSQL its heap grows under the scan):
    # a row already invoiced is skipped by the unique entry_id instead.
    cond = [*pending_rows(rec_id, id_range, not_invoiced=False), valid_row()]
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
    if created > ANALYZE_AFTER:
        await analyze(tx, INV)
    return created


async def invalid_rows(tx: Transaction, rec_id: str, limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    cond = [*pending_rows(rec_id), ~valid_row()]
    count = await tx.session.scalar(select(func.count()).select_from(E).where(*cond)) or 0
    rows = (await tx.session.execute(select(*entry_columns()).select_from(entries_from()).where(*cond)
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
    created = await insert_invoices(tx, rec_id, id_range, exclude_exceptions=True)
    invalid_count, invalid = await invalid_rows(tx, rec_id) if id_range is None else (0, [])
    duplicates = await held_back_count(tx.session, rec_id) if id_range is None else 0
    t = await refresh_status(tx, rec)
    response = {"created": created, "exceptions": len(exceptions), "exception_entry_ids": exceptions[:1000],
                "invalid": invalid_count, "invalid_rows": invalid, "duplicates_excluded": duplicates,
                "reconciliation": header(rec, t)}
    return await remember(tx, key, rec_id, "create-invoices", response) if remember_key else response


async def pending_id_bounds(session: Any, rec_id: str) -> tuple[int, int, int]:
    row = (await session.execute(select(func.min(E.c.id), func.max(E.c.id), func.count()).where(
        *pending_rows(rec_id)))).one()
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
    gone = (await tx.session.execute(delete(INV).where(INV.c.id == invoice_id).returning(
        INV.c.entry_id, INV.c.policy_id, INV.c.bill_type, INV.c.effective_date, INV.c.premium, INV.c.commission,
        INV.c.people_commission_total, INV.c.created_by))).one()
    # the row is gone: its amounts live on in the audit trail (issue 19 item 6)
    await tx.audit("invoice.deleted", subject_type="invoice", subject_id=str(invoice_id),
                   detail={"reconciliation_id": rec_id, **gone._asdict()})
    return header(rec, await refresh_status(tx, rec))


def _posted_events(rec_id: str, rows: list[Any], single: bool) -> list[InvoicePosted] | list[InvoicesPosted]:
    """A single post (one invoice picked): ``InvoicePosted`` (keyed by policy); every bulk post (Post
    All Selected, a job's chunk, Create/Pay All): ``InvoicesPosted`` chunks of ``BULK_CHUNK``, keyed by
    the reconciliation, in invoice order."""
    if single:
        r = rows[0]
        return [InvoicePosted(invoice_id=str(r.id), reconciliation_id=r.reconciliation_id, policy_id=r.policy_id,
                              bill_type=r.bill_type, effective_date=r.effective_date,
                              expiration_date=r.expiration_date, premium=r.premium, commission=r.commission)]
    invoices = [PostedInvoice(invoice_id=str(r.id), policy_id=r.policy_id, bill_type=r.bill_type,
                              effective_date=r.effective_date, expiration_date=r.expiration_date,
                              premium=r.premium, commission=r.commission) for r in rows]
    return [InvoicesPosted(reconciliation_id=rec_id, invoices=invoices[i:i + BULK_CHUNK])
            for i in range(0, len(invoices), BULK_CHUNK)]


async def post_invoices(tx: Transaction, rec_id: str, invoice_ids: list[int] | None = None,
                        key: str | None = None) -> dict[str, Any]:
    """Post Invoices: unposted → posted (direct-bill transactions); events by ``_posted_events``."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "post")) is not None:
        return done
    require_live(rec)
    posted = await post_range(tx, rec_id, invoice_ids)
    await audit_posted(tx, rec_id, posted)
    if posted.count > ANALYZE_AFTER:
        await analyze(tx, INV)
    t = await refresh_status(tx, rec)
    return await remember(tx, key, rec_id, "post", {"posted": posted.count, "reconciliation": header(rec, t)})


@dataclass(frozen=True)
class Posted:
    count: int = 0
    premium_total: Decimal = ZERO
    commission_total: Decimal = ZERO


async def audit_posted(tx: Transaction, rec_id: str, posted: Posted, **detail: Any) -> None:
    """One row per Post (not per invoice): how many, and their premium and commission."""
    if posted.count:
        await tx.audit("invoices.posted", subject_type="reconciliation", subject_id=rec_id,
                       detail={"count": posted.count, "premium_total": posted.premium_total,
                               "commission_total": posted.commission_total, **detail})


def unposted(rec_id: str) -> list[ColumnElement[bool]]:
    return [INV.c.reconciliation_id == rec_id, INV.c.status == "unposted"]


def direct_bill(rec_id: str) -> list[ColumnElement[bool]]:
    """This reconciliation's own invoices not carried elsewhere, and those carried to it."""
    return [or_(and_(INV.c.reconciliation_id == rec_id, INV.c.carried_to.is_(None)), INV.c.carried_to == rec_id)]


def pay_selection(rec_id: str) -> list[ColumnElement[bool]]:
    return [*direct_bill(rec_id), INV.c.pay_selected.is_(True), INV.c.received.is_not(None),
            INV.c.status.in_(("posted", "paid"))]


async def invoice_id_bounds(session: Any, cond: list[ColumnElement[bool]]) -> tuple[int, int, int]:
    row = (await session.execute(select(func.min(INV.c.id), func.max(INV.c.id), func.count()).where(*cond))).one()
    return row[0] or 0, row[1] or 0, row[2] or 0


async def post_range(tx: Transaction, rec_id: str, invoice_ids: list[int] | None, run_id: str | None = None,
                id_range: tuple[int, int] | None = None) -> Posted:
    cond = unposted(rec_id)
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
        return Posted()
    now = utcnow()
    await tx.session.execute(update(INV).where(*cond).values(status="posted", posted_at=now, posted_by=tx.actor),
                             execution_options={"synchronize_session": False})
    await tx.emit_many(_posted_events(rec_id, rows, single=invoice_ids is not None and len(rows) == 1))
    return Posted(len(rows), sum((r.premium for r in rows), ZERO), sum((r.commission for r in rows), ZERO))
