"""reporting's subscriptions: the upstream jobs and activities, every other service's events, and
every dead-letter topic.

The consumer applies a batch of up to 500 records in one transaction and calls a handler per event.
The upstream jobs and activities (the volume) are staged in memory on the session, newest version
per id, and written just before the batch's transaction commits by one ``executemany`` of
``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE excluded.version > version`` per table: an older
version never overwrites a newer one, whatever the order of arrival. The per-topic event counts and
dead-letter counts are tallied the same way (one upsert per distinct (topic, type, day)). The other
services' events each cost one upsert statement. If the batch fails, the consumer applies its
events one by one (each in its own transaction, through the same path), so one bad event is
dead-lettered alone. A redelivered event never reaches a handler (the inbox), so nothing is counted
twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.orm import Session

from agency_common.contracts import topics
from agency_common.contracts.appointments import TransactionStatusChanged
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import PolicyCreated, PolicySessionCreated, StatementImported
from agency_common.contracts.invoicing import InvoicePosted, PaymentRecorded, ReconciliationChanged
from agency_common.contracts.nipr import TransactionResultReceived
from agency_common.contracts.registry import registry
from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted
from agency_common.messaging.consumer import EventConsumer, Incoming
from agency_common.outbox import Transaction
from reporting.domain.rules import period_facts
from reporting.models import (
    Activity,
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
    PolicyJob,
)
from reporting.settings import ReportingSettings

OWN_TOPICS = {topics.REPORTING_TEAM_SCREENS}
EVENT_COUNTS = "reporting.event_counts"
DEAD_LETTER_COUNTS = "reporting.dead_letter_counts"
UPSERTS = "reporting.upserts"

Handler = Callable[[Transaction, Envelope[Any]], Awaitable[None]]


# -- dialect-aware upserts (built once per dialect and table, executed with parameters) ------------
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _dialect_insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert_statement(session: Any, table: Any, *, newer: str | None = None, ignore: bool = False,
                     add: tuple[str, ...] = ()) -> Any:
    """``INSERT ... ON CONFLICT (pk) DO UPDATE SET every column WHERE excluded.<newer> > <newer>``
    (``ignore``: DO NOTHING; ``add``: those columns are summed instead of replaced)."""
    dialect = session.bind.dialect.name
    key = (dialect, f"{table.name}:{newer}:{ignore}:{add}")
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        ins = _dialect_insert(dialect)(table)
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


# -- counts tallied per transaction, written once before it commits ----------------------------------
class CountingSession(Session):
    """The write sessions of reporting's database: they write what the handlers staged (upstream
    upserts, counts) just before commit."""


@event.listens_for(CountingSession, "before_commit")
def _write_staged(session: Session) -> None:
    staged: dict[str, dict[str, dict[str, Any]]] | None = session.info.pop(UPSERTS, None)
    for table in (PolicyJob.__table__, Activity.__table__):
        rows = (staged or {}).get(table.name)
        if rows:
            session.execute(upsert_statement(session, table, newer="version"), list(rows.values()))
    events: Counter[tuple[str, str, Any]] | None = session.info.pop(EVENT_COUNTS, None)
    dead: Counter[str] | None = session.info.pop(DEAD_LETTER_COUNTS, None)
    if events:
        session.execute(
            upsert_statement(session, EventCount.__table__, add=("count",)),
            [{"topic": t, "event_type": e, "day": d, "count": n} for (t, e, d), n in sorted(events.items())],
        )
    if dead:
        session.execute(
            upsert_statement(session, DeadLetterCount.__table__, add=("count",)),
            [{"topic": t, "count": n} for t, n in sorted(dead.items())],
        )


def tally_event(tx: Transaction, envelope: Envelope[Any]) -> None:
    counts = tx.session.info.setdefault(EVENT_COUNTS, Counter())
    counts[(type(envelope.payload).topic, envelope.type, envelope.occurred_at.date())] += 1


async def count_event(tx: Transaction, envelope: Envelope[Any]) -> None:
    tally_event(tx, envelope)


async def count_dead_letter(tx: Transaction, message: Incoming) -> None:
    original = message.headers.get("x-original-topic") or message.topic.removesuffix(topics.DLT_SUFFIX)
    tx.session.info.setdefault(DEAD_LETTER_COUNTS, Counter())[original] += 1


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


def _stage(tx: Transaction, table: str, key: str, row: dict[str, Any]) -> None:
    """Keep the newest version of each record seen in this transaction; written before commit."""
    staged: dict[str, dict[str, Any]] = tx.session.info.setdefault(UPSERTS, {}).setdefault(table, {})
    current = staged.get(key)
    if current is None or row["version"] > current["version"]:
        staged[key] = row


async def on_policy_job(tx: Transaction, envelope: Envelope[PolicyJobUpserted]) -> None:
    tally_event(tx, envelope)
    _stage(tx, PolicyJob.__tablename__, envelope.payload.job_id, job_row(envelope.payload, envelope.occurred_at))


async def on_activity(tx: Transaction, envelope: Envelope[ActivityUpserted]) -> None:
    tally_event(tx, envelope)
    _stage(tx, Activity.__tablename__, envelope.payload.activity_id,
           activity_row(envelope.payload, envelope.occurred_at))


# -- operations read models -------------------------------------------------------------------------
def operations_handlers(settings: ReportingSettings) -> dict[type, Handler]:
    tz = ZoneInfo(settings.team_screens_time_zone)

    def day(value: datetime) -> Any:
        return value.astimezone(tz).date()

    async def statement_imported(tx: Transaction, env: Envelope[StatementImported]) -> None:
        tally_event(tx, env)
        p = env.payload
        await tx.session.execute(upsert_statement(tx.session, OpsStatement.__table__), {
            "statement_id": p.statement_id, "carrier": p.carrier, "file_name": p.file_name[:500],
            "imported_by": p.imported_by, "imported_at": p.imported_at, "day": day(p.imported_at),
            "total_rows": p.total_rows, "valid_rows": p.valid_rows, "invalid_rows": p.invalid_rows,
            "blank_rows": p.blank_rows})

    async def policy_created(tx: Transaction, env: Envelope[PolicyCreated]) -> None:
        tally_event(tx, env)
        p = env.payload.policy
        await tx.session.execute(upsert_statement(tx.session, OpsPolicy.__table__, ignore=True), {
            "policy_id": p.policy_id, "session_id": p.session_id, "carrier": p.carrier, "created_by": env.actor,
            "created_at": env.occurred_at, "day": day(env.occurred_at)})

    async def session_created(tx: Transaction, env: Envelope[PolicySessionCreated]) -> None:
        tally_event(tx, env)
        p = env.payload
        await tx.session.execute(upsert_statement(tx.session, OpsPolicySession.__table__, ignore=True), {
            "session_id": p.session_id, "statement_id": p.statement_id, "carrier": p.carrier,
            "created_by": p.created_by, "created_at": p.created_at, "day": day(p.created_at), "count": p.count})

    async def reconciliation_changed(tx: Transaction, env: Envelope[ReconciliationChanged]) -> None:
        tally_event(tx, env)
        p = env.payload
        await tx.session.execute(upsert_statement(tx.session, OpsReconciliation.__table__, newer="changed_at"), {
            "reconciliation_id": p.reconciliation_id, "carrier": p.carrier, "status": p.status,
            "statement_total": p.statement_total, "received_total": p.received_total, "difference": p.difference,
            "entry_count": p.entry_count, "exception_count": p.exception_count, "changed_by": p.changed_by,
            "changed_at": p.changed_at})

    async def invoice_posted(tx: Transaction, env: Envelope[InvoicePosted]) -> None:
        tally_event(tx, env)
        p = env.payload
        await tx.session.execute(upsert_statement(tx.session, OpsInvoice.__table__, ignore=True), {
            "invoice_id": p.invoice_id, "reconciliation_id": p.reconciliation_id, "bill_type": p.bill_type,
            "premium": p.premium, "commission": p.commission, "posted_at": env.occurred_at})

    async def payment_recorded(tx: Transaction, env: Envelope[PaymentRecorded]) -> None:
        tally_event(tx, env)
        p = env.payload
        await tx.session.execute(upsert_statement(tx.session, OpsPayment.__table__, ignore=True), {
            "event_id": str(env.event_id), "reconciliation_id": p.reconciliation_id,
            "invoice_count": len(p.invoice_ids), "received_total": p.received_total, "paid_by": p.paid_by,
            "paid_at": p.paid_at, "day": day(p.paid_at)})

    async def transaction_changed(tx: Transaction, env: Envelope[TransactionStatusChanged]) -> None:
        tally_event(tx, env)
        p = env.payload
        turnaround = (int((p.answered_at - p.submitted_at).total_seconds())
                      if p.submitted_at is not None and p.answered_at is not None else None)
        await tx.session.execute(upsert_statement(tx.session, OpsTransaction.__table__, newer="changed_at"), {
            "transaction_id": p.transaction_id, "batch_id": p.batch_id, "kind": p.kind, "npn": p.npn,
            "state": p.state, "line_of_authority": p.line_of_authority, "cocode": p.cocode, "status": p.status,
            "eligibility_reason": (p.eligibility_reason or None) and p.eligibility_reason[:200],
            "billable": p.billable, "fee": p.fee, "submitted_at": p.submitted_at, "answered_at": p.answered_at,
            "turnaround_seconds": turnaround, "changed_at": p.changed_at})

    async def nipr_result(tx: Transaction, env: Envelope[TransactionResultReceived]) -> None:
        tally_event(tx, env)
        p = env.payload
        await tx.session.execute(upsert_statement(tx.session, OpsNiprResult.__table__, newer="processed_at"), {
            "transaction_id": p.transaction_id, "batch_id": p.batch_id, "outcome": p.outcome,
            "reason": (p.reason or None) and p.reason[:500], "processed_at": p.processed_at})

    return {
        StatementImported: statement_imported,
        PolicyCreated: policy_created,
        PolicySessionCreated: session_created,
        ReconciliationChanged: reconciliation_changed,
        InvoicePosted: invoice_posted,
        PaymentRecorded: payment_recorded,
        TransactionStatusChanged: transaction_changed,
        TransactionResultReceived: nipr_result,
    }


def subscribe(consumer: EventConsumer, settings: ReportingSettings) -> None:
    # The write sessions flush the tallied counts just before they commit.
    consumer.uow.db.write_sessionmaker.configure(sync_session_class=CountingSession)
    specific: dict[type, Handler] = {PolicyJobUpserted: on_policy_job, ActivityUpserted: on_activity,
                                     **operations_handlers(settings)}
    for topic, types in registry().items():
        if topic in OWN_TOPICS:
            continue
        for payload_type in types.values():
            consumer.on(payload_type, specific.get(payload_type, count_event))
    for topic in topics.ALL_TOPICS:
        consumer.on_raw(topics.dlt(topic), count_dead_letter)

