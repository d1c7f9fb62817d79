"""What intake consumes: carrier statement feeds and invoicing's postings (one line per event type)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agency_common.contracts.envelope import Envelope, make_envelope
from agency_common.contracts.invoicing import InvoicePosted, InvoicesPosted
from agency_common.contracts.upstream import (
    CarrierStatementCompleted,
    CarrierStatementRows,
    CarrierStatementStarted,
    IndividualUpserted,
)
from agency_common.dead_letters import seal
from agency_common.logging import get_logger
from agency_common.messaging.consumer import EventConsumer, PermanentError
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from pydantic import ValidationError
from sqlalchemy import insert

from intake.errors import NotFound, UseCaseError
from intake.individuals.usecases import upsert_from_crm
from intake.policies.postings import Posting, apply_invoice_postings
from intake.statements import feeds

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime

log = get_logger(__name__)


async def on_statement_started(tx: Transaction, env: Envelope[Any]) -> None:
    p: CarrierStatementStarted = env.payload
    await feeds.feed_started(tx, p.feed_statement_id, p.carrier, p.file_name, p.statement_date, p.columns)


async def on_statement_rows(tx: Transaction, env: Envelope[Any]) -> None:
    p: CarrierStatementRows = env.payload
    try:
        await feeds.feed_rows(tx, p.feed_statement_id, p.first_line_no, p.rows)
    except NotFound as exc:
        raise PermanentError(str(exc)) from None


def on_statement_completed(runtime: Any) -> Any:
    async def handler(tx: Transaction, env: Envelope[Any]) -> None:
        p: CarrierStatementCompleted = env.payload
        auto = runtime.settings.auto_publish_when_matched if runtime is not None else False
        try:
            await feeds.feed_completed(tx, p.feed_statement_id, p.row_count, auto_publish=auto)
        except NotFound as exc:
            raise PermanentError(str(exc)) from None
    return handler


def postings_of(env: Envelope[Any]) -> list[Posting]:
    """The postings of either form: one ``InvoicePosted`` or an ``InvoicesPosted`` chunk."""
    p = env.payload
    items = p.invoices if isinstance(p, InvoicesPosted) else [p]
    return [Posting(x.policy_id, x.bill_type, x.premium, x.effective_date, x.expiration_date, x.commission,
                    x.invoice_id, reconciliation_id=p.reconciliation_id, event_id=str(env.event_id),
                    posted_by=env.actor, posted_at=env.occurred_at) for x in items]


def set_aside_copy(env: Envelope[Any], unknown: list[Posting]) -> Envelope[Any]:
    """A new event (its own id, caused by the original) with only the postings not applied: replaying it
    applies just those; the original's id is in the inbox, its other postings applied."""
    p = env.payload
    ids = {x.invoice_id for x in unknown}
    payload = p if isinstance(p, InvoicePosted) else InvoicesPosted(
        reconciliation_id=p.reconciliation_id, invoices=[i for i in p.invoices if i.invoice_id in ids])
    return make_envelope(payload, producer=env.producer, actor=env.actor, correlation_id=env.correlation_id,
                         causation_id=str(env.event_id), occurred_at=env.occurred_at)


def on_invoices_posted(runtime: ServiceRuntime) -> Any:
    """Postings (both forms) of a consumed run at once, in posting order (each event's own order kept:
    chunks of different reconciliations may arrive interleaved from different partitions). Postings for
    a policy intake does not know are not applied: they are set aside as a dead letter of their own
    (``set_aside_copy``, in this transaction), listed and replayed like any other once the policy exists,
    so a chunk of 500 never dead-letters its 499 good postings."""
    async def handler(tx: Transaction, events: list[Envelope[Any]]) -> None:
        ordered = sorted(events, key=lambda e: e.occurred_at)  # stable: one partition's order is kept
        applied = await apply_invoice_postings(tx, [x for e in ordered for x in postings_of(e)])
        if not applied.unknown:
            return
        unknown = {x.invoice_id for x in applied.unknown}
        now, rows = utcnow(), []
        for env in ordered:
            missing = [x for x in postings_of(env) if x.invoice_id in unknown]
            if not missing:
                continue
            copy = set_aside_copy(env, missing)
            error = "no policy " + ", ".join(sorted({x.policy_id for x in missing}))
            log.warning("postings set aside: unknown policies", event_id=str(env.event_id),
                        set_aside_as=str(copy.event_id), postings=len(missing), error=error[:500])
            rows.append({
                "consumer": runtime.consumer.name, "topic": copy.payload.topic, "partition": -1, "offset": -1,
                "key": copy.payload.key(), "event_id": str(copy.event_id), "event_type": copy.type,
                "error_type": "PolicyNotFound", "error": error[:4000], "attempts": 1,
                "payload": seal(copy.to_bytes(), runtime.pii), "headers": json.dumps(copy.headers()),
                "failed_at": now})
        await tx.session.execute(insert(runtime.tables.dead_letters), rows)
    return handler


def on_individual(runtime: Any) -> Any:
    async def handler(tx: Transaction, env: Envelope[Any]) -> None:
        p: IndividualUpserted = env.payload
        if runtime.pii is None:
            raise RuntimeError("PII keys are not configured: individuals cannot be stored")
        try:
            await upsert_from_crm(tx, p.external_id, p.version, p.fields, p.custom_fields, runtime.pii)
        except ValidationError as exc:
            # only where and what, never the input values: they may be PII
            reasons = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise PermanentError(f"individual {p.external_id}: {reasons}") from None
        except UseCaseError as exc:
            raise PermanentError(f"individual {p.external_id}: {exc}") from None
    return handler


def subscribe(consumer: EventConsumer, runtime: ServiceRuntime) -> None:
    consumer.on(CarrierStatementStarted, on_statement_started)
    consumer.on(CarrierStatementRows, on_statement_rows)
    consumer.on(CarrierStatementCompleted, on_statement_completed(runtime))
    consumer.on_batch(InvoicePosted, on_invoices_posted(runtime))
    consumer.on_batch(InvoicesPosted, on_invoices_posted(runtime))
    consumer.on(IndividualUpserted, on_individual(runtime))
