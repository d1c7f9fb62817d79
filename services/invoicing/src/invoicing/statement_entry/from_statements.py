"""A carrier statement published by intake becomes a reconciliation's statement entry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from agency_common.contracts.intake import StatementLinesPublished, StatementPublished
from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import func, select

from invoicing.domain.commission import (
    Amounts,
    apply_amount_edit,
    default_bill_type,
    rate_fraction,
)
from invoicing.models import (
    Reconciliation,
    StatementChunk,
)
from invoicing.reconciliations.status import refresh_status
from invoicing.reconciliations.usecases import business_today, carry_stranded_invoices, next_number
from invoicing.tables import FINAL, E, analyze


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
    rate = rate_fraction(rate)
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
