"""Consuming events: inbox, retries with backoff, dead-letter topic, commit after the database.

Each service registers one handler per event type it consumes (one line each, like eShop's
subscriptions). Messages arrive in batches; a batch is applied in one transaction together with
its inbox rows (a redelivered event_id has no second effect) and the offsets are committed only
after that transaction commits.

A poison message costs its own retries, not its partition's time (issue 20): if the batch fails
because a handler refused some events by name (``EventsRefused``), the rest is applied again at once;
if it fails otherwise, it is applied again in one transaction with each handler run in a savepoint (a
failing batch handler's run bisected), so only the failing messages are left out. Each is parked with the later messages of
its key waiting behind it (per-key order), retried alone after a backoff while the stream flows on,
and after ``consumer_max_attempts`` tries (at once for a ``PermanentError``) published with its
original bytes and headers and the error in extra headers to ``<topic>.dlt``, recorded in the
service's ``dead_letters`` table for replay; then what waited behind it is applied. Offsets are
committed per partition up to the first message not settled, so a crash loses nothing parked. A
message that breaks the contract goes to the dead-letter topic at once. If the database or the
dead-letter publish fails, nothing more is committed and the consumer reads again from the first
message not settled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from functools import partial
from itertools import chain
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from agency_common.contracts.envelope import Envelope, EventPayload
from agency_common.contracts.registry import ContractError, counted_envelope, decode
from agency_common.logging import correlation_id_var, get_logger
from agency_common.messaging import inbox
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
from agency_common.messaging.parking import Chain, ParkingLot
from agency_common.metrics import ServiceMetrics
from agency_common.outbox.unit_of_work import Transaction, UnitOfWork
from agency_common.pii import PiiCipher
from agency_common.settings import ServiceSettings

__all__ = ["BatchHandler", "EventConsumer", "EventsRefused", "Handler", "Incoming", "PermanentError", "RawHandler",
           "dead_letter_id"]

log = get_logger(__name__)

ISOLATION_CHUNK = 32  # messages a failed batch handler's run is tried in, before bisecting a failing chunk


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
        self.tables = uow.tables
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
        await self._settle(ready)
        self.parking.taken(records)

    async def _settle(self, items: list[Incoming]) -> None:
        """Apply messages in order in one transaction; if that fails, apply them again in another,
        leaving out only the failing ones (parked, ``_isolate_runs``) and committing the rest at once."""
        if not items:
            return
        tried: list[Incoming] = []  # the messages the failed batch reached: that was their first try
        try:
            await self._apply(items, tried)
            return
        except Exception as exc:  # noqa: BLE001 - any handler error is isolated, retried, then dead-lettered
            if len(items) == 1:
                self.parking.park(items[0], exc, attempts=1)
                return
            error = exc
            log.info("batch failed, isolating the failing messages", size=len(items), error=str(exc))
        async with self._transaction(items[0]) as tx:
            fresh = await inbox.claim(tx, self.tables.inbox, self.name, items)
            applied: list[Incoming] = []
            # the run the batch failed in (the last one it reached) is known to fail, and why
            failed = (id(tried[-1]), error) if tried else None
            await self._isolate_runs(tx, _runs(fresh, self.batch_handlers), applied, {id(i) for i in tried}, failed)
            await inbox.unclaim(tx, self.tables.inbox, self.name, fresh, applied)
        self._count(items, applied)

    async def _isolate_runs(self, tx: Transaction, runs: list[list[Incoming]], applied: list[Incoming],
                            tried: set[int], failed: tuple[int, Exception] | None) -> None:
        """Apply handler runs, leaving out only what fails. The runs are tried together in one
        savepoint; the one an attempt fails in is the last it reached, so the runs before it are
        applied again together, the failing run is isolated (``_isolate_run``) and the next attempt
        starts after it: a poison among single events costs two attempts, not one per event.
        ``failed``: a message whose run is already known to fail, and the error (not tried again)."""
        while runs := self._not_waiting(runs):
            at = next((n for n, run in enumerate(runs) if failed and any(id(i) == failed[0] for i in run)), None)
            if at is not None and failed is not None:
                error = failed[1]
            else:
                at, error = await self._attempt(tx, runs)
                if at is None or error is None:
                    applied.extend(i for run in runs for i in run)
                    return
            failed = None
            if at:  # they did not fail: again at once (isolated in turn if they do now)
                await self._isolate_runs(tx, runs[:at], applied, tried, None)
            await self._isolate_run(tx, runs[at], applied, tried, error)
            runs = runs[at + 1:]

    async def _attempt(self, tx: Transaction, runs: list[list[Incoming]]) -> tuple[int | None, Exception | None]:
        """Apply runs in one savepoint: ``(None, None)`` if all went, else (rolled back) the index of
        the run it failed in and the error."""
        at = 0
        try:
            async with tx.session.begin_nested():
                for at, run in enumerate(runs):  # ``at`` is read after a failure
                    await self._run(tx, run)
        except Exception as exc:  # noqa: BLE001 - any handler error is isolated, retried, then dead-lettered
            return at, exc
        return None, None

    async def _isolate_run(self, tx: Transaction, run: list[Incoming], applied: list[Incoming], tried: set[int],
                           error: Exception) -> None:
        """A run known to fail with ``error``: the events a handler refused by name are parked and the
        rest applied again at once; a single message is parked; a batch handler's run is bisected."""
        rest = self._without_refused(run, error)
        if rest is not None:
            await self._isolate_runs(tx, [rest], applied, tried, None)
        elif len(run) == 1:
            self.parking.park(run[0], error, attempts=1)
        elif len(run) > 2 * ISOLATION_CHUNK:
            # long runs in chunks, each bisected only if it fails: as few probes as halving at 1 %
            # poison, and each good message applied about twice instead of five times
            for start in range(0, len(run), ISOLATION_CHUNK):
                await self._isolate(tx, run[start:start + ISOLATION_CHUNK], applied, tried)
        else:
            await self._isolate(tx, run, applied, tried, fails=True)

    def _not_waiting(self, runs: list[list[Incoming]]) -> list[list[Incoming]]:
        """The runs less the messages that must wait behind a parked one with their key."""
        return [r for r in ([i for i in run if not self.parking.wait_behind(i)] for run in runs) if r]

    async def _isolate(self, tx: Transaction, run: list[Incoming], applied: list[Incoming], tried: set[int],
                       fails: bool = False) -> bool:
        """Apply a run in a savepoint; if it fails, bisect it (a batch handler's run) down to the
        messages that fail alone, and park those. ``fails``: the run is known to fail, so it is split
        without trying it whole (a single message is always tried). Returns whether all was applied."""
        run = [incoming for incoming in run if not self.parking.wait_behind(incoming)]
        if not run:
            return True
        if not (fails and len(run) > 1):
            try:
                async with tx.session.begin_nested():
                    await self._run(tx, run)
                applied.extend(run)
                return True
            except Exception as exc:  # noqa: BLE001 - any handler error is isolated, retried, then dead-lettered
                rest = self._without_refused(run, exc)
                if rest is not None:
                    await self._isolate(tx, rest, applied, tried)
                    return False
                if len(run) == 1:
                    self.parking.park(run[0], exc, attempts=2 if id(run[0]) in tried else 1)
                    return False
        middle = len(run) // 2
        left = await self._isolate(tx, run[:middle], applied, tried)
        # the whole failed and its left half did not: the right half fails (unless the cause has passed)
        await self._isolate(tx, run[middle:], applied, tried, fails=left)
        return False

    def _without_refused(self, items: list[Incoming], error: Exception) -> list[Incoming] | None:
        """Park the messages a handler refused by name and return the rest (less what waits behind
        the parked ones with their keys); ``None`` if the error names none of these messages."""
        if not isinstance(error, EventsRefused):
            return None
        refused = {id(i) for i in items if i.envelope is not None and error.reason(i.envelope.event_id)}
        if not refused:
            return None
        rest = []
        for incoming in items:
            if id(incoming) in refused:
                self.parking.park(incoming, error, attempts=1)
            elif not self.parking.wait_behind(incoming):
                rest.append(incoming)
        return rest

    async def _retry_due(self) -> None:
        """Try the parked messages whose backoff is over (each alone, in one transaction), dead-letter
        those out of attempts, then apply what waited behind the ones settled."""
        while due := self.parking.due():
            settled = [c for c in due if c.hopeless]
            await self.dead_letter_many([(c.head, c.error, c.attempts) for c in settled])
            settled += await self._retry_heads([c for c in due if not c.hopeless])
            await self._settle(self.parking.release(settled))

    async def _retry_heads(self, chains: list[Chain]) -> list[Chain]:
        if not chains:
            return []
        settled: list[Chain] = []
        async with self._transaction(chains[0].head) as tx:
            claimed = await inbox.claim(tx, self.tables.inbox, self.name, [c.head for c in chains])
            fresh = {id(i) for i in claimed}
            applied: list[Incoming] = []
            for chain in chains:
                if id(chain.head) in fresh:
                    try:
                        async with tx.session.begin_nested():
                            await self._run(tx, [chain.head])
                    except Exception as exc:  # noqa: BLE001 - retried until out of attempts
                        self.parking.failed_again(chain, exc)
                        continue
                    applied.append(chain.head)
                settled.append(chain)
            await inbox.unclaim(tx, self.tables.inbox, self.name, claimed, applied)
        done = {id(i) for i in applied}
        for chain in settled:
            outcome = "applied" if id(chain.head) in done else "duplicate"
            self.metrics.events_consumed.labels(chain.head.topic, outcome).inc()
        return settled

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

    # -- transactions -----------------------------------------------------------------------------
    def _transaction(self, first: Incoming) -> Any:
        env = first.envelope
        return self.uow(
            actor=env.actor if env else "system",
            correlation_id=env.correlation_id if env else first.headers.get("correlation_id"),
            causation_id=str(env.event_id) if env else None,
        )

    async def _apply(self, batch: list[Incoming], tried: list[Incoming]) -> None:
        async with self._transaction(batch[0]) as tx:
            to_apply = await inbox.claim(tx, self.tables.inbox, self.name, batch)
            for run in _runs(to_apply, self.batch_handlers):
                tried.extend(run)
                await self._run(tx, run)
        self._count(batch, to_apply)

    async def _run(self, tx: Transaction, run: list[Incoming]) -> None:
        key = _type_key(run[0])
        if key in self.batch_handlers:
            await self.batch_handlers[key](tx, [i.envelope for i in run])  # type: ignore[misc]
        else:
            await self._handle(tx, run[0])

    def _count(self, batch: list[Incoming], applied: list[Incoming]) -> None:
        """Metrics for settled messages: applied, or skipped as a duplicate (parked ones are neither)."""
        done = {id(i) for i in applied}
        parked = self.parking.parked()
        counts = Counter((i.topic, "applied" if id(i) in done else "duplicate") for i in batch if id(i) not in parked)
        for (topic, outcome), n in counts.items():  # one labels() look-up per topic, not per message
            self.metrics.events_consumed.labels(topic, outcome).inc(n)

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
