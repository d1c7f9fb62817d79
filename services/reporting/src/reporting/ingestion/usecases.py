"""Writing the read models from a run of events: one dialect-aware executemany upsert per run
(``batch_upsert``), the per-(topic, type, day) event counts, the dead letters counted per topic, and
each event's row (upstream jobs and activities; the operations read models)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agency_common.contracts import topics
from agency_common.contracts.appointments import (
    TransactionStatus,
    TransactionStatusChanged,
    TransactionStatusesChanged,
)
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import (
    PoliciesCreated,
    PolicyCreated,
    PolicySessionCreated,
    PolicySnapshot,
    StatementImported,
)
from agency_common.contracts.invoicing import (
    InvoicePosted,
    InvoicesPosted,
    PaymentRecorded,
    ReconciliationChanged,
)
from agency_common.contracts.nipr import TransactionResultReceived
from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted
from agency_common.db.engine import dialect_insert
from agency_common.messaging.consumer import Incoming
from agency_common.outbox import Transaction

from reporting.models import (
    DeadLetterCount,
    EventCount,
    OpsInvoice,
    OpsNiprResult,
    OpsPayment,
    OpsPolicy,
    OpsPolicySession,
    OpsReconciliation,
    OpsStatement,
    OpsTransaction,
)
from reporting.settings import ReportingSettings
from reporting.team_screens.domain.rules import period_facts

# -- dialect-aware upserts (built once per dialect and table, executed with parameters) ------------
_STATEMENTS: dict[tuple[str, str], Any] = {}


def upsert_statement(session: Any, table: Any, *, newer: str | None = None, ignore: bool = False,
                     add: tuple[str, ...] = ()) -> Any:
    """``INSERT ... ON CONFLICT (pk) DO UPDATE SET every column`` guarded by
    ``WHERE excluded.version > version`` (``newer="version"``) or ``excluded.<time> >= <time>`` (a
    timestamp column); ``ignore``: DO NOTHING; ``add``: those columns are summed, not replaced."""
    dialect = session.bind.dialect.name
    key = (dialect, f"{table.name}:{newer}:{ignore}:{add}")
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        ins = dialect_insert(dialect)(table)
        pk = [c.name for c in table.primary_key.columns]
        if ignore:
            stmt = ins.on_conflict_do_nothing(index_elements=pk)
        else:
            set_ = {c.name: ins.excluded[c.name] for c in table.columns if c.name not in pk}
            for name in add:
                set_[name] = table.c[name] + ins.excluded[name]
            where = None
            if newer == "version":
                where = ins.excluded.version > table.c.version
            elif newer is not None:
                where = ins.excluded[newer] >= table.c[newer]
            stmt = ins.on_conflict_do_update(index_elements=pk, set_=set_, where=where)
        _STATEMENTS[key] = stmt
    return stmt


# -- counts -------------------------------------------------------------------------------------------
async def count_events(tx: Transaction, envelopes: list[Envelope[Any]]) -> None:
    """One upsert for the run's events per (topic, type, day), counting entities (a bulk event counts
    each entity of its chunk)."""
    counts: Counter[tuple[str, str, Any]] = Counter()
    for e in envelopes:
        counts[(type(e.payload).topic, e.type, e.occurred_at.date())] += e.payload.entity_count()
    await tx.session.execute(
        upsert_statement(tx.session, EventCount.__table__, add=("count",)),
        [{"topic": t, "event_type": et, "day": d, "count": n} for (t, et, d), n in sorted(counts.items())],
    )


async def count_dead_letter(tx: Transaction, message: Incoming) -> None:
    original = message.headers.get("x-original-topic") or message.topic.removesuffix(topics.DLT_SUFFIX)
    await tx.session.execute(upsert_statement(tx.session, DeadLetterCount.__table__, add=("count",)),
                             {"topic": original, "count": 1})


def newest(rows: Iterable[dict[str, Any]], key: str, order: str) -> list[dict[str, Any]]:
    """One row per id, the one with the greatest ``order`` (later arrival wins a tie)."""
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        current = out.get(row[key])
        if current is None or row[order] >= current[order]:
            out[row[key]] = row
    return list(out.values())


BatchHandler = Callable[[Transaction, list[Envelope[Any]]], Awaitable[None]]


def batch_upsert(table: Any, to_row: Callable[[Envelope[Any]], dict[str, Any]] | None = None, *, key: str,
                 newer: str | None = None, ignore: bool = False,
                 to_rows: Callable[[Envelope[Any]], Iterable[dict[str, Any]]] | None = None) -> BatchHandler:
    """A handler writing a run of events as one executemany upsert, and counting them. ``to_row`` maps an
    event to its row; ``to_rows`` maps a bulk event to one row per entity of its chunk."""
    if (to_row is None) == (to_rows is None):
        raise TypeError("give exactly one of to_row and to_rows")
    each = to_rows if to_rows is not None else (lambda e: (to_row(e),))  # type: ignore[misc]

    async def handler(tx: Transaction, envelopes: list[Envelope[Any]]) -> None:
        rows = [row for e in envelopes for row in each(e)]
        if not ignore:
            rows = newest(rows, key, newer) if newer else list({r[key]: r for r in rows}.values())
        if rows:
            await tx.session.execute(upsert_statement(tx.session, table, newer=newer, ignore=ignore), rows)
        await count_events(tx, envelopes)

    return handler


# -- upstream read models ---------------------------------------------------------------------------
def job_row(p: PolicyJobUpserted, seen_at: datetime) -> dict[str, Any]:
    facts = period_facts(p.periods)
    return {
        "job_id": p.job_id, "version": p.version, "job_type": p.job_type, "assigned_user": p.assigned_user,
        "assigned_group": p.assigned_group, "create_time": p.create_time, "close_date": p.close_date,
        "has_model_number": facts.has_model_number, "locked_non_renewed": facts.locked_non_renewed,
        "locked_not_taken": facts.locked_not_taken,
        "periods": json.dumps([per.model_dump() for per in p.periods]) if p.periods else "[]",
        "updated_at": seen_at,
    }


def activity_row(p: ActivityUpserted, seen_at: datetime) -> dict[str, Any]:
    return {
        "activity_id": p.activity_id, "version": p.version, "subject": p.subject[:500],
        "assigned_user": p.assigned_user, "assigned_group": p.assigned_group, "status": p.status,
        "target_date": p.target_date, "close_date": p.close_date, "updated_at": seen_at,
    }


# -- operations read models -------------------------------------------------------------------------
def _cut(value: str | None, n: int) -> str | None:
    return value[:n] if value else None


def operations_handlers(settings: ReportingSettings) -> dict[type, BatchHandler]:
    tz = ZoneInfo(settings.team_screens_time_zone)

    def day(value: datetime) -> Any:
        return value.astimezone(tz).date()

    def statement(env: Envelope[StatementImported]) -> dict[str, Any]:
        p = env.payload
        return {"statement_id": p.statement_id, "carrier": p.carrier, "file_name": p.file_name[:500],
                "imported_by": p.imported_by, "imported_at": p.imported_at, "day": day(p.imported_at),
                "total_rows": p.total_rows, "valid_rows": p.valid_rows, "invalid_rows": p.invalid_rows,
                "blank_rows": p.blank_rows}

    def policy_row(env: Envelope[Any], p: PolicySnapshot) -> dict[str, Any]:
        return {"policy_id": p.policy_id, "session_id": p.session_id, "carrier": p.carrier, "created_by": env.actor,
                "created_at": env.occurred_at, "day": day(env.occurred_at)}

    def policy(env: Envelope[PolicyCreated]) -> dict[str, Any]:
        return policy_row(env, env.payload.policy)

    def policies(env: Envelope[PoliciesCreated]) -> Iterable[dict[str, Any]]:
        return (policy_row(env, p) for p in env.payload.policies)

    def session(env: Envelope[PolicySessionCreated]) -> dict[str, Any]:
        p = env.payload
        return {"session_id": p.session_id, "statement_id": p.statement_id, "carrier": p.carrier,
                "created_by": p.created_by, "created_at": p.created_at, "day": day(p.created_at), "count": p.count}

    def reconciliation(env: Envelope[ReconciliationChanged]) -> dict[str, Any]:
        p = env.payload
        return {"reconciliation_id": p.reconciliation_id, "carrier": p.carrier, "status": p.status,
                "statement_total": p.statement_total, "received_total": p.received_total,
                "difference": p.difference, "entry_count": p.entry_count, "exception_count": p.exception_count,
                "changed_by": p.changed_by, "changed_at": p.changed_at}

    def invoice(env: Envelope[InvoicePosted]) -> dict[str, Any]:
        p = env.payload
        return {"invoice_id": p.invoice_id, "reconciliation_id": p.reconciliation_id, "bill_type": p.bill_type,
                "premium": p.premium, "commission": p.commission, "posted_at": env.occurred_at}

    def invoices(env: Envelope[InvoicesPosted]) -> list[dict[str, Any]]:
        p = env.payload
        return [{"invoice_id": i.invoice_id, "reconciliation_id": p.reconciliation_id, "bill_type": i.bill_type,
                 "premium": i.premium, "commission": i.commission, "posted_at": env.occurred_at} for i in p.invoices]

    def payment(env: Envelope[PaymentRecorded]) -> dict[str, Any]:
        p = env.payload
        return {"event_id": str(env.event_id), "reconciliation_id": p.reconciliation_id,
                "invoice_count": len(p.invoice_ids), "received_total": p.received_total, "paid_by": p.paid_by,
                "paid_at": p.paid_at, "day": day(p.paid_at)}

    def transaction_row(p: TransactionStatusChanged | TransactionStatus) -> dict[str, Any]:
        turnaround = (int((p.answered_at - p.submitted_at).total_seconds())
                      if p.submitted_at is not None and p.answered_at is not None else None)
        return {"transaction_id": p.transaction_id, "batch_id": p.batch_id, "kind": p.kind, "npn": p.npn,
                "state": p.state, "line_of_authority": p.line_of_authority, "cocode": p.cocode, "status": p.status,
                "eligibility_reason": _cut(p.eligibility_reason, 200), "billable": p.billable, "fee": p.fee,
                "submitted_at": p.submitted_at, "answered_at": p.answered_at, "turnaround_seconds": turnaround,
                "changed_at": p.changed_at}

    def transaction(env: Envelope[TransactionStatusChanged]) -> dict[str, Any]:
        return transaction_row(env.payload)

    def transactions(env: Envelope[TransactionStatusesChanged]) -> list[dict[str, Any]]:
        return [transaction_row(t) for t in env.payload.transactions]

    def nipr_result(env: Envelope[TransactionResultReceived]) -> dict[str, Any]:
        p = env.payload
        return {"transaction_id": p.transaction_id, "batch_id": p.batch_id, "outcome": p.outcome,
                "reason": _cut(p.reason, 500), "processed_at": p.processed_at}

    return {
        StatementImported: batch_upsert(OpsStatement.__table__, statement, key="statement_id"),
        PolicyCreated: batch_upsert(OpsPolicy.__table__, policy, key="policy_id", ignore=True),
        PoliciesCreated: batch_upsert(OpsPolicy.__table__, to_rows=policies, key="policy_id", ignore=True),
        PolicySessionCreated: batch_upsert(OpsPolicySession.__table__, session, key="session_id", ignore=True),
        ReconciliationChanged: batch_upsert(OpsReconciliation.__table__, reconciliation, key="reconciliation_id",
                                            newer="changed_at"),
        InvoicePosted: batch_upsert(OpsInvoice.__table__, invoice, key="invoice_id", ignore=True),
        InvoicesPosted: batch_upsert(OpsInvoice.__table__, key="invoice_id", ignore=True, to_rows=invoices),
        PaymentRecorded: batch_upsert(OpsPayment.__table__, payment, key="event_id", ignore=True),
        TransactionStatusChanged: batch_upsert(OpsTransaction.__table__, transaction, key="transaction_id",
                                               newer="changed_at"),
        TransactionStatusesChanged: batch_upsert(OpsTransaction.__table__, key="transaction_id", newer="changed_at",
                                                 to_rows=transactions),
        TransactionResultReceived: batch_upsert(OpsNiprResult.__table__, nipr_result, key="transaction_id",
                                                newer="processed_at"),
    }
