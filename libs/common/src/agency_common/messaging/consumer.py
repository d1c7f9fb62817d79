"""Consuming events: inbox, retries with backoff, dead-letter topic, commit after the database.

Each service registers one handler per event type it consumes (one line each, like eShop's
subscriptions). Messages arrive in batches; a batch is applied in one transaction together with
its inbox rows (a redelivered event_id has no second effect) and the offsets are committed only
after that transaction commits. If the batch fails, its messages are applied one by one, each with
bounded retries and backoff; a message that still fails, or breaks the contract, is published with
its original bytes and headers and the error in extra headers to ``<topic>.dlt``, recorded in the
service's ``dead_letters`` table for replay, and committed. If the dead-letter publish itself fails,
nothing is committed and the consumer seeks back to the message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import insert, select

from agency_common.contracts.envelope import Envelope, EventPayload
from agency_common.contracts.registry import ContractError, decode
from agency_common.contracts.topics import DLT_SUFFIX, dlt
from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.dead_letters import mask_error, seal
from agency_common.logging import correlation_id_var, get_logger
from agency_common.metrics import ServiceMetrics
from agency_common.outbox.unit_of_work import Transaction, UnitOfWork
from agency_common.pii import PiiCipher
from agency_common.settings import ServiceSettings
from agency_common.timeutil import utcnow

log = get_logger(__name__)

Handler = Callable[[Transaction, Envelope[Any]], Awaitable[None]]
RawHandler = Callable[[Transaction, "Incoming"], Awaitable[None]]
BatchHandler = Callable[[Transaction, list[Envelope[Any]]], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (e.g. a rule the event breaks)."""


@dataclass
class Incoming:
    """One consumed record, decoded where its topic carries envelopes."""

    record: ConsumerRecord[Any, Any]
    envelope: Envelope[Any] | None = None

    @property
    def topic(self) -> str:
        return self.record.topic

    @property
    def headers(self) -> dict[str, str]:
        return {k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in self.record.headers or ()}

    @property
    def inbox_id(self) -> str:
        if self.envelope is not None:
            return str(self.envelope.event_id)
        hdr = self.headers
        if self.topic.endswith(DLT_SUFFIX) and "x-consumer" in hdr:
            return dead_letter_id(hdr)
        if "event_id" in hdr:
            return f"{hdr['event_id']}@{self.topic}"
        return f"{self.topic}:{self.record.partition}:{self.record.offset}"


def dead_letter_id(headers: dict[str, str]) -> str:
    """The identity of a dead-letter copy: one refusal of one message by one consumer, the key of the
    refusing service's ``dead_letters`` row. Two services refusing the same event make two copies with
    the same ``event_id`` (both counted); a copy published again after a crash is the same refusal
    (counted once). Hashed to fit the inbox's key column."""
    parts = [headers.get(name, "") for name in
             ("x-consumer", "x-original-topic", "x-original-partition", "x-original-offset", "event_id")]
    return "dlt:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class EventConsumer:
    def __init__(
        self,
        settings: ServiceSettings,
        broker: KafkaBroker,
        uow: UnitOfWork,
        metrics: ServiceMetrics,
        *,
        name: str | None = None,
        pii: PiiCipher | None = None,
    ) -> None:
        self.settings = settings
        self.pii = pii  # seals dead letters at rest
        self.broker = broker
        self.uow = uow
        self.tables = uow.tables
        self.metrics = metrics
        self.name = name or settings.service_name
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.raw_handlers: dict[str, RawHandler] = {}
        self.batch_handlers: dict[tuple[str, str], BatchHandler] = {}
        self.subscriber: Any = None

    # -- registration ---------------------------------------------------------------------------
    def on(self, payload_type: type[EventPayload], handler: Handler) -> None:
        self.handlers[(payload_type.topic, payload_type.event_type)] = handler

    def on_batch(self, payload_type: type[EventPayload], handler: BatchHandler) -> None:
        """Like ``on``, but the handler gets every consecutive event of this type in a consumed
        batch at once (for set-based writes at ingestion rates); still one transaction, in order."""
        key = (payload_type.topic, payload_type.event_type)
        self.batch_handlers[key] = handler
        self.handlers[key] = _unused_single

    def on_raw(self, topic: str, handler: RawHandler) -> None:
        """Consume a topic without decoding envelopes (e.g. dead-letter topics)."""
        self.raw_handlers[topic] = handler

    @property
    def topics(self) -> list[str]:
        return sorted({t for t, _ in self.handlers} | set(self.raw_handlers))

    def register(self) -> None:
        if not self.topics:
            return
        s = self.settings
        self.subscriber = self.broker.subscriber(
            *self.topics,
            group_id=self.name,
            batch=True,
            max_records=s.consumer_batch_size,
            batch_timeout_ms=200,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=600_000,
            title=f"{self.name} consumer",
            description="Handles: " + ", ".join(sorted({t for _, t in self.handlers} | set(self.raw_handlers))),
        )
        self.subscriber(self._on_batch)

    # -- processing -----------------------------------------------------------------------------
    async def _on_batch(self, msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        try:
            await self.process(list(records))
        except Exception:
            # Only a failed dead-letter publish gets here: keep the offsets, read the batch again.
            log.exception("batch could not be settled; seeking back")
            await msg.nack()
            await asyncio.sleep(1.0)
            return
        await msg.ack()

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        ready: list[Incoming] = []
        for record in records:
            incoming = Incoming(record)
            if record.topic not in self.raw_handlers:
                try:
                    incoming.envelope = decode(record.topic, record.value)
                except ContractError as exc:
                    await self.dead_letter(incoming, exc, attempts=1)
                    continue
                if (record.topic, incoming.envelope.type) not in self.handlers:
                    self.metrics.events_consumed.labels(record.topic, "ignored").inc()
                    continue
            ready.append(incoming)
        if not ready:
            return
        try:
            await self._apply(ready)
            return
        except Exception as exc:  # noqa: BLE001 - any handler error is retried, then dead-lettered
            batch_error = exc
        # The failed batch counts as every message's first attempt.
        if len(ready) == 1:
            await self._retry(ready[0], attempts=1, error=batch_error)
            return
        log.info("batch failed, applying its messages one by one", size=len(ready), error=str(batch_error))
        for incoming in ready:
            await self._retry(incoming, attempts=1, error=None)

    async def _retry(self, incoming: Incoming, attempts: int, error: Exception | None) -> None:
        """Apply one message until it succeeds, at most ``consumer_max_attempts`` tries in all,
        with exponential backoff; then dead-letter it."""
        while True:
            if error is not None:
                log.warning("event handling failed", topic=incoming.topic, attempt=attempts, error=str(error))
                if isinstance(error, PermanentError | ContractError) or attempts >= self.settings.consumer_max_attempts:
                    await self.dead_letter(incoming, error, attempts=attempts)
                    return
                await asyncio.sleep(self.settings.consumer_backoff_seconds * 2 ** (attempts - 1))
            try:
                await self._apply([incoming])
                return
            except Exception as exc:  # noqa: BLE001 - any handler error is retried, then dead-lettered
                error = exc
                attempts += 1

    async def _apply(self, batch: list[Incoming]) -> None:
        first = batch[0]
        env = first.envelope
        async with self.uow(
            actor=env.actor if env else "system",
            correlation_id=env.correlation_id if env else first.headers.get("correlation_id"),
            causation_id=str(env.event_id) if env else None,
        ) as tx:
            to_apply = await self._record_inbox(tx, batch)
            for run in _runs(to_apply, self.batch_handlers):
                if _type_key(run[0]) in self.batch_handlers:
                    await self.batch_handlers[_type_key(run[0])](tx, [i.envelope for i in run])  # type: ignore[misc]
                else:
                    await self._handle(tx, run[0])
        applied = {id(i) for i in to_apply}
        for incoming in batch:
            outcome = "applied" if id(incoming) in applied else "duplicate"
            self.metrics.events_consumed.labels(incoming.topic, outcome).inc()

    async def _handle(self, tx: Transaction, incoming: Incoming) -> None:
        env = incoming.envelope
        token = correlation_id_var.set(env.correlation_id if env else incoming.headers.get("correlation_id"))
        try:
            with structlog.contextvars.bound_contextvars(topic=incoming.topic):
                if env is None:
                    await self.raw_handlers[incoming.topic](tx, incoming)
                    return
                tx.actor, tx.correlation_id, tx.causation_id = env.actor, env.correlation_id, str(env.event_id)
                await self.handlers[(incoming.topic, env.type)](tx, env)
        finally:
            correlation_id_var.reset(token)

    async def _record_inbox(self, tx: Transaction, batch: list[Incoming]) -> list[Incoming]:
        """Insert inbox rows and return the messages to apply, in order: the first copy of each
        event not seen before (a redelivery, or a second copy in the same batch, is skipped)."""
        inbox = self.tables.inbox
        firsts: dict[str, Incoming] = {}
        for incoming in batch:
            firsts.setdefault(incoming.inbox_id, incoming)
        seen_before = set(
            (
                await tx.session.execute(
                    select(inbox.c.event_id).where(inbox.c.consumer == self.name, inbox.c.event_id.in_(list(firsts)))
                )
            ).scalars()
        )
        fresh = [incoming for key, incoming in firsts.items() if key not in seen_before]
        if fresh:
            now = utcnow()
            await tx.session.execute(
                insert(inbox),
                [
                    {
                        "event_id": i.inbox_id,
                        "consumer": self.name,
                        "topic": i.topic,
                        "event_type": i.envelope.type if i.envelope else None,
                        "received_at": now,
                    }
                    for i in fresh
                ],
            )
        return fresh

    # -- dead letters ---------------------------------------------------------------------------
    async def dead_letter(self, incoming: Incoming, error: Exception, attempts: int) -> None:
        record = incoming.record
        error_text = mask_error(f"{error}")[:4000]
        headers = incoming.headers
        dlt_headers = {
            **headers,
            "x-error": error_text[:1000],
            "x-error-type": type(error).__name__,
            "x-original-topic": record.topic,
            "x-original-partition": str(record.partition),
            "x-original-offset": str(record.offset),
            "x-attempts": str(attempts),
            "x-failed-at": utcnow().isoformat(),
            "x-consumer": self.name,
        }
        async with self.uow.db.transaction() as session:
            await session.execute(
                insert_ignoring_conflicts(session, self.tables.dead_letters),
                {
                    "consumer": self.name,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key,
                    "event_id": headers.get("event_id") or (str(incoming.envelope.event_id) if incoming.envelope else None),
                    "event_type": headers.get("event_type"),
                    "error_type": type(error).__name__,
                    "error": error_text,
                    "attempts": attempts,
                    "payload": seal(record.value or b"", self.pii),
                    "headers": json.dumps(headers),
                    "failed_at": utcnow(),
                },
            )
        await self.broker.publish(
            record.value or b"",
            topic=dlt(record.topic),
            key=record.key,
            headers=dlt_headers,
        )
        self.metrics.dead_lettered.labels(record.topic).inc()
        self.metrics.events_consumed.labels(record.topic, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
            error_type=type(error).__name__,
            error=error_text[:500],
        )

    # -- lag ------------------------------------------------------------------------------------
    async def update_lag(self) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = await consumer.position(tp)
            except Exception:  # noqa: BLE001, S112 - a partition revoked meanwhile: no lag to report
                continue
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - position))


async def _unused_single(_tx: Transaction, _env: Envelope[Any]) -> None:  # pragma: no cover
    raise AssertionError("batch handlers are called through on_batch")


def _type_key(incoming: Incoming) -> tuple[str, str] | None:
    return (incoming.topic, incoming.envelope.type) if incoming.envelope is not None else None


def _runs(items: list[Incoming], batched: dict[tuple[str, str], BatchHandler]) -> list[list[Incoming]]:
    """Split into runs: consecutive events of one batch-handled type together, others alone."""
    runs: list[list[Incoming]] = []
    for item in items:
        key = _type_key(item)
        if runs and key in batched and _type_key(runs[-1][0]) == key:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
