"""Consuming events: inbox, retries with backoff, dead-letter topic, commit after the database.

Each service registers one handler per event type it consumes (one line each, like eShop's
subscriptions). Messages arrive in batches; a batch is applied in one transaction together with
its inbox rows (a redelivered event_id has no second effect) and the offsets are committed only
after that transaction commits.

A poison message costs its own retries, not its partition's time (issue 20): a batch that fails is
applied again leaving out only the failing messages (``applying``); each is parked with the later
messages of its key waiting behind it (``parking``: per-key order), retried alone after a backoff while
the stream flows on, and after ``consumer_max_attempts`` tries (at once for a ``PermanentError``)
published with its original bytes and headers and the error in extra headers to ``<topic>.dlt``,
recorded in the service's ``dead_letters`` table for replay; then what waited behind it is applied.
Offsets are committed per partition up to the first message not settled, so a crash loses nothing
parked. A message that breaks the contract goes to the dead-letter topic at once. If the database or
the dead-letter publish fails, nothing more is committed and the consumer reads again from the first
message not settled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from itertools import chain
from typing import Any

from aiokafka import ConsumerRebalanceListener, ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from agency_common.contracts.envelope import Envelope, EventPayload
from agency_common.contracts.registry import ContractError, counted_envelope, decode
from agency_common.logging import get_logger
from agency_common.messaging.applying import Applier
from agency_common.messaging.dead_lettering import DeadLetters
from agency_common.messaging.incoming import (
    BatchHandler,
    EventsRefused,
    Handler,
    Incoming,
    PermanentError,
    RawHandler,
    dead_letter_id,
    header,
)
from agency_common.messaging.parking import ParkingLot
from agency_common.metrics import ServiceMetrics
from agency_common.outbox.unit_of_work import Transaction, UnitOfWork
from agency_common.pii import PiiCipher
from agency_common.settings import ServiceSettings

__all__ = ["BatchHandler", "EventConsumer", "EventsRefused", "Handler", "Incoming", "PermanentError", "RawHandler",
           "dead_letter_id"]

log = get_logger(__name__)


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
        self.broker = broker
        self.uow = uow
        self.metrics = metrics
        self.name = name or settings.service_name
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.raw_handlers: dict[str, RawHandler] = {}
        self.batch_handlers: dict[tuple[str, str], BatchHandler] = {}
        self.envelopes: dict[tuple[str, str], type[Envelope[Any]]] = {}  # a lighter model to decode with
        self.subscriber: Any = None
        self.parking = ParkingLot(settings.consumer_max_attempts, settings.consumer_backoff_seconds)
        self._lock = asyncio.Lock()  # batches and the retry task take turns
        self._retrier: asyncio.Task[None] | None = None
        self._rebalanced = False
        self.dead_letters = DeadLetters(self.name, broker, uow, metrics, pii)  # pii seals them at rest
        self.applier = Applier(self.name, uow, self.parking, metrics, handlers=self.handlers,
                               batch_handlers=self.batch_handlers, raw_handlers=self.raw_handlers)

    # -- registration ---------------------------------------------------------------------------
    def on(self, payload_type: type[EventPayload], handler: Handler) -> None:
        self.handlers[(payload_type.topic, payload_type.event_type)] = handler

    def on_batch(self, payload_type: type[EventPayload], handler: BatchHandler, *,
                 validate_payload: bool = True) -> None:
        """Like ``on``, but the handler gets every consecutive event of this type in a consumed
        batch at once (for set-based writes at ingestion rates); still one transaction, in order.
        ``validate_payload=False`` for a handler that only counts the events: their payload is not
        validated (``counted_envelope``), which is most of the decoding's cost."""
        key = (payload_type.topic, payload_type.event_type)
        self.batch_handlers[key] = handler
        self.handlers[key] = _unused_single
        if not validate_payload:
            self.envelopes[key] = counted_envelope(payload_type)

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
            batch_timeout_ms=s.consumer_batch_timeout_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            consumer_timeout_ms=s.kafka_consumer_timeout_ms,
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=600_000,
            listener=_Rebalances(self),
            decoder=undecoded,
            title=f"{self.name} consumer",
            description="Handles: " + ", ".join(sorted({t for _, t in self.handlers} | set(self.raw_handlers))),
        )
        self.subscriber(self._on_batch)
        self.subscriber.get_msg = partial(_next_batch, self.subscriber)

    # -- processing -----------------------------------------------------------------------------
    async def _on_batch(self, msg: KafkaMessage) -> None:
        records = list(msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,))
        async with self._lock:
            try:
                await self.process(records)
                await self._retry_due()
            except Exception:
                # Only a failed database or dead-letter publish gets here: read it all again.
                log.exception("batch could not be settled; reading it again")
                self._rewind(records)
                await asyncio.sleep(1.0)
                return
            await self._commit()
        self._start_retrier()

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a consumed batch: what cannot be applied now is parked for a retry (``parking``)."""
        self._forget_stale(records)
        ready: list[Incoming] = []
        malformed: list[tuple[Incoming, Exception, int]] = []
        for record in records:
            incoming = Incoming(record)
            if record.topic not in self.raw_handlers:
                event_type = header(record, "event_type")
                try:
                    incoming.envelope = decode(record.topic, record.value, event_type,
                                               self.envelopes.get((record.topic, event_type or "")))
                except ContractError as exc:
                    malformed.append((incoming, exc, 1))  # never retried
                    continue
                if (record.topic, incoming.envelope.type) not in self.handlers:
                    self.metrics.events_consumed.labels(record.topic, "ignored").inc()
                    continue
            if not self.parking.wait_behind(incoming):
                ready.append(incoming)
        await self.dead_letter_many(malformed)
        await self.applier.settle(ready)
        self.parking.taken(records)

    async def _retry_due(self) -> None:
        """Try the parked messages whose backoff is over (each alone, in one transaction), dead-letter
        those out of attempts, then apply what waited behind the ones settled."""
        while due := self.parking.due():
            settled = [c for c in due if c.hopeless]
            await self.dead_letter_many([(c.head, c.error, c.attempts) for c in settled])
            settled += await self.applier.retry_heads([c for c in due if not c.hopeless])
            await self.applier.settle(self.parking.release(settled))

    def _start_retrier(self) -> None:
        if self.parking and (self._retrier is None or self._retrier.done()):
            self._retrier = asyncio.create_task(self._retry_loop(), name=f"{self.name}-consumer-retries")

    async def _retry_loop(self) -> None:
        """Retries parked messages when no batch arrives to do it (a quiet topic still gets them)."""
        while self.parking:
            await asyncio.sleep(self.parking.seconds_to_next())
            async with self._lock:
                if self._kafka_consumer() is None:  # stopped: what was parked is read again at the next start
                    self.parking.clear()
                    return
                try:
                    self._forget_stale(())
                    await self._retry_due()
                except Exception:
                    log.exception("parked messages could not be settled; reading them again")
                    self._rewind(())
                    continue
                await self._commit()

    # -- offsets ----------------------------------------------------------------------------------
    def _kafka_consumer(self) -> Any:
        return getattr(self.subscriber, "consumer", None)

    async def _commit(self) -> None:
        """Commit, per partition, up to the first message not settled yet (a parked one or one waiting
        behind it): after a crash everything from there is read again, and the inbox skips what was
        applied."""
        consumer = self._kafka_consumer()
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in self.parking.committable().items() if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # noqa: BLE001 - a rebalance: the next owner reads from the last commit
            log.warning("offset commit failed", error=str(exc))

    def _forget_stale(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Drop what is parked for a partition no longer ours or read again (after a rebalance the
        consumer starts again from the last commit, before anything parked): it is rebuilt from
        the records as they come."""
        if self._rebalanced:  # every partition is read again from its last commit
            self._rebalanced = False
            self.parking.clear()
        consumer = self._kafka_consumer()
        assigned = consumer.assignment() if consumer is not None else None
        gone = {tp for tp in self.parking.consumed_to if assigned is not None and tp not in assigned}
        self.parking.forget(gone | self.parking.read_back(records))

    def _rewind(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Seek each partition back to its first record not settled (of this batch or parked) and
        forget what was parked: it is all read again (the inbox skips what was applied)."""
        firsts = self.parking.read_again_from(records)
        consumer = self._kafka_consumer()
        if consumer is None:
            return
        assigned = consumer.assignment()
        for tp, offset in firsts.items():
            if tp in assigned:
                consumer.seek(tp, offset)

    # -- dead letters ---------------------------------------------------------------------------
    async def dead_letter(self, incoming: Incoming, error: Exception, attempts: int) -> None:
        await self.dead_letter_many([(incoming, error, attempts)])

    async def dead_letter_many(self, refused: list[tuple[Incoming, Exception, int]]) -> None:
        await self.dead_letters.publish(refused)

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


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """After a rebalance the consumer reads each partition again from its last commit: what was
    parked is rebuilt from the records as they come (the inbox skips what was applied)."""

    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.consumer._rebalanced = True

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.consumer._rebalanced = True


async def _next_batch(subscriber: Any, consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
    """FastStream's batch subscriber, finding nothing in ``batch_timeout_ms``, sleeps as long again
    before it polls: a message arriving meanwhile waited up to 200 ms more at every hop. ``getmany``
    already waits for the first record, so poll again at once."""
    batches = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records)
    return tuple(chain.from_iterable(batches.values()))


async def undecoded(_msg: Any) -> None:
    """A subscriber's decoder that leaves the bodies alone: FastStream would ``json.loads`` every
    record of a batch for nothing (the handler reads the raw records and validates them once)."""
    return


async def _unused_single(_tx: Transaction, _env: Envelope[Any]) -> None:  # pragma: no cover
    raise AssertionError("batch handlers are called through on_batch")
