"""What intake consumes: carrier statement feeds and invoicing's postings (one line per event type)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.invoicing import InvoicePosted
from agency_common.contracts.upstream import (
    CarrierStatementCompleted,
    CarrierStatementRows,
    CarrierStatementStarted,
    IndividualUpserted,
)
from agency_common.messaging.consumer import EventConsumer, PermanentError
from agency_common.outbox import Transaction
from pydantic import ValidationError

from intake.errors import NotFound, UseCaseError
from intake.individuals.usecases import upsert_from_crm
from intake.policies.postings import Posting, apply_invoice_postings
from intake.statements import feeds

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime


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


async def on_invoices_posted(tx: Transaction, events: list[Envelope[Any]]) -> None:
    """A consumed run of postings at once. An unknown policy fails the batch: the consumer then
    applies the events one by one and dead-letters only that one."""
    postings = [Posting(p.policy_id, p.bill_type, p.premium, p.effective_date, p.expiration_date, p.commission)
                for p in (e.payload for e in events)]
    try:
        await apply_invoice_postings(tx, postings)
    except NotFound as exc:
        raise PermanentError(str(exc)) from None


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
    consumer.on_batch(InvoicePosted, on_invoices_posted)
    consumer.on(IndividualUpserted, on_individual(runtime))
