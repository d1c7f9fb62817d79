"""A poison message costs its own retries, not its partition's time (issue 20 item 1), against the real
broker: the rest of its batch is applied at once, the messages with its key wait behind it until it
is applied or dead-lettered, it is dead-lettered once, and offsets are never committed past it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from agency_common.contracts.envelope import Envelope, EventPayload, make_envelope
from agency_common.contracts.registry import _REGISTRY, event
from agency_common.db.types import UTCDateTime
from agency_common.messaging.admin import ensure_topics
from agency_common.messaging.consumer import EventsRefused, PermanentError
from agency_common.outbox import Transaction, messaging_tables
from agency_common.settings import ServiceSettings
from agency_common.timeutil import utcnow
from agency_common.web.runtime import ServiceRuntime
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy import event as sa_event

from tests.support.inprocess import eventually

TOPIC = "test.keyed-things.v1"
KEYS = 20
PER_KEY = 10


class KeyedThingHappened(EventPayload):
    topic: ClassVar[str] = TOPIC
    event_type: ClassVar[str] = "test.keyed-thing.happened"

    thing_id: str  # "<key>-<sequence>"
    group: str

    def key(self) -> str:
        return self.group


@pytest.fixture(autouse=True)
def _registered_test_event() -> Iterator[None]:
    event(KeyedThingHappened)
    yield
    _REGISTRY.pop(TOPIC, None)


metadata = MetaData()
messaging = messaging_tables(metadata)
effects = Table("keyed_effects", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("thing_id", String(50), nullable=False), Column("applied_at", UTCDateTime(), nullable=False))


class Probe:
    """Applies things; ``poison`` always fails, ``flaky`` fails its first tries, ``blocked`` fails
    while it is in the set. ``batched``: registered with ``on_batch`` (a failing run is bisected)."""

    def __init__(self, poison: set[str] = frozenset(), flaky: dict[str, int] | None = None,
                 blocked: set[str] | None = None, refuse: type[Exception] | None = None) -> None:
        self.poison, self.flaky, self.blocked = poison, dict(flaky or {}), set(blocked or ())
        self.refuse = refuse  # name the failing events (EventsRefused, each with this error) instead of raising blind
        self.calls: Counter[str] = Counter()
        self.runs = 0  # handler calls

    def _fails(self, thing: str) -> bool:
        self.calls[thing] += 1
        return thing in self.poison or thing in self.blocked or self.calls[thing] <= self.flaky.get(thing, 0)

    async def handle(self, tx: Transaction, env: Envelope[Any]) -> None:
        await self.handle_many(tx, [env])

    async def handle_many(self, tx: Transaction, envs: list[Envelope[Any]]) -> None:
        self.runs += 1
        await tx.session.execute(insert(effects), [{"thing_id": e.payload.thing_id, "applied_at": utcnow()}
                                                   for e in envs])
        failing = [e for e in envs if self._fails(e.payload.thing_id)]
        if failing and self.refuse is not None:
            raise EventsRefused({e.event_id: self.refuse(f"cannot apply {e.payload.thing_id}") for e in failing})
        if failing:
            raise RuntimeError(f"cannot apply {failing[0].payload.thing_id}")


def _messages() -> list[tuple[str, bytes]]:
    """KEYS keys interleaved, PER_KEY things each: offsets follow this order on the one partition."""
    out = []
    for seq in range(PER_KEY):
        for k in range(KEYS):
            group = f"k{k}"
            env = make_envelope(KeyedThingHappened(thing_id=f"{group}-{seq}", group=group), producer="test",
                                actor="tester", correlation_id="poison-test")
            out.append((group, env.to_bytes()))
    return out


def _offset_of(thing: str) -> int:
    group, seq = thing.split("-")
    return int(seq) * KEYS + int(group[1:])


async def _start(kafka: str, databases: Any, probe: Probe, batched: bool, **settings: Any) -> tuple[ServiceRuntime, Any]:
    await ensure_topics(kafka, [TOPIC, TOPIC + ".dlt"], partitions=1)
    runtime = ServiceRuntime(ServiceSettings(
        service_name="probe", database_url=databases.new("probe"), kafka_bootstrap_servers=kafka,
        kafka_session_timeout_ms=2000, kafka_heartbeat_interval_ms=500, consumer_batch_size=500,
        **settings), messaging, title="Probe")
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    if batched:
        runtime.consumer.on_batch(KeyedThingHappened, probe.handle_many)
    else:
        runtime.consumer.on(KeyedThingHappened, probe.handle)
    return runtime, runtime.create_app()


async def _send(kafka: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=50)
    await producer.start()
    try:
        for key, value in messages:  # one partition: sent in order, offsets in order
            await producer.send(TOPIC, value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _applied(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as s:
        return list((await s.execute(select(effects).order_by(effects.c.id))).mappings())


async def _dead_letters(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as s:
        return list((await s.execute(select(messaging.dead_letters))).mappings())


async def _dlt_size(kafka: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(TOPIC + ".dlt", 0)
        return (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()


async def _committed(kafka: str) -> int | None:
    """The probe group's committed offset, read without joining the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id="probe", enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(TOPIC, 0))
    finally:
        await consumer.stop()


def _per_key(rows: list[Any]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for row in rows:
        group, seq = row["thing_id"].split("-")
        order.setdefault(group, []).append(int(seq))
    return order


@pytest.mark.parametrize("batched", [False, True], ids=["on", "on_batch"])
async def test_poison_is_dead_lettered_once_the_rest_applied_once_in_order_per_key(
        kafka: str, databases: Any, batched: bool) -> None:
    probe = Probe(poison={"k3-2"}, flaky={"k7-4": 2})
    runtime, app = await _start(kafka, databases, probe, batched, consumer_max_attempts=3,
                                consumer_backoff_seconds=0.05)
    await _send(kafka, _messages())
    good = KEYS * PER_KEY - 1
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_is(runtime, good), timeout=60, message="every good message applied")
        dead = await eventually(lambda: _dead_letters(runtime), message="the poison dead-lettered")
        await eventually(lambda: _committed_is(kafka, KEYS * PER_KEY), message="offsets committed to the end")
    rows = await _applied(runtime)
    things = Counter(r["thing_id"] for r in rows)
    assert "k3-2" not in things, "the poison's effects were rolled back"
    assert len(things) == good and set(things.values()) == {1}, "every good message applied exactly once"
    assert _per_key(rows) == {f"k{k}": [s for s in range(PER_KEY) if (k, s) != (3, 2)] for k in range(KEYS)}, \
        "order per key kept"
    assert [(d["event_type"], d["attempts"], d["offset"]) for d in dead] == [
        (None, 3, _offset_of("k3-2"))], "dead-lettered once, after its bounded tries"
    assert await _dlt_size(kafka) == 1, "one copy on the dead-letter topic"
    failed_at = dead[0]["failed_at"]
    assert all(r["applied_at"] > failed_at for r in rows if r["thing_id"] in {f"k3-{s}" for s in range(3, PER_KEY)}), \
        "what follows the poison with its key waits until it is dead-lettered"
    if not batched:
        assert probe.calls["k3-2"] == 3, "the poison's handler ran consumer_max_attempts times"


async def _count_is(runtime: ServiceRuntime, n: int) -> bool:
    return len(await _applied(runtime)) >= n


async def _committed_is(kafka: str, offset: int) -> bool:
    return await _committed(kafka) == offset


async def test_a_parked_message_holds_only_its_key_and_the_commit_stays_before_it(kafka: str, databases: Any) -> None:
    held = "k5-1"
    probe = Probe(blocked={held})
    # Long backoff and many tries: the message stays parked while the test looks.
    runtime, app = await _start(kafka, databases, probe, False, consumer_max_attempts=8,
                                consumer_backoff_seconds=0.5)
    await _send(kafka, _messages())
    behind = {f"k5-{s}" for s in range(1, PER_KEY)}
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_is(runtime, KEYS * PER_KEY - len(behind)), timeout=60,
                         message="every other key flows on")
        await eventually(lambda: _committed_is(kafka, _offset_of(held)),
                         message="offsets committed up to the parked message, not past it")
        applied = {r["thing_id"] for r in await _applied(runtime)}
        assert not applied & behind, "nothing with the parked message's key overtakes it"
        assert probe.calls[held] < 8 and not await _dead_letters(runtime)

        probe.blocked.clear()  # the cause is gone: its next try applies it, then its key follows
        await eventually(lambda: _count_is(runtime, KEYS * PER_KEY), timeout=60, message="the held key caught up")
        await eventually(lambda: _committed_is(kafka, KEYS * PER_KEY), message="offsets committed to the end")
    rows = await _applied(runtime)
    assert len(rows) == KEYS * PER_KEY and len({r["thing_id"] for r in rows}) == KEYS * PER_KEY
    assert _per_key(rows)["k5"] == list(range(PER_KEY))
    assert not await _dead_letters(runtime)


@pytest.mark.parametrize("error", [RuntimeError, PermanentError], ids=["retried", "permanent"])
async def test_events_a_batch_handler_refuses_by_name_cost_no_probing(kafka: str, databases: Any,
                                                                     error: type[Exception]) -> None:
    """A batch handler that names the events it cannot apply (``EventsRefused``): the rest of the batch
    is applied again at once (no bisection), the refused ones retried alone with their own reason (a
    ``PermanentError`` dead-lettered at once), and their keys' later messages wait behind them."""
    poison = {"k3-2", "k11-5"}
    probe = Probe(poison=poison, refuse=error)
    runtime, app = await _start(kafka, databases, probe, True, consumer_max_attempts=3,
                                consumer_backoff_seconds=0.05)
    await _send(kafka, _messages())
    good = KEYS * PER_KEY - len(poison)
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_is(runtime, good), timeout=60, message="every good message applied")
        dead = await eventually(lambda: _has_dead_letters(runtime, len(poison)), message="the refused dead-lettered")
        await eventually(lambda: _committed_is(kafka, KEYS * PER_KEY), message="offsets committed to the end")
    rows = await _applied(runtime)
    things = Counter(r["thing_id"] for r in rows)
    assert len(things) == good and set(things.values()) == {1} and not poison & set(things)
    assert _per_key(rows)["k3"] == [s for s in range(PER_KEY) if s != 2], "order per key kept"
    attempts = 1 if error is PermanentError else 3
    assert sorted((d["offset"], d["attempts"], d["error"]) for d in dead) == sorted(
        (_offset_of(t), attempts, f"cannot apply {t}") for t in poison), "each with its own reason and tries"
    # Per batch that met the poison: the failed run, the rest at once, the retries alone and the released
    # followers: far fewer handler runs than bisecting 200 messages for two bad ones.
    assert probe.runs <= 12, probe.runs  # 8 retried, 3 permanent when it all comes in one batch; 27 bisecting


async def _has_dead_letters(runtime: ServiceRuntime, n: int) -> list[Any] | None:
    dead = await _dead_letters(runtime)
    return dead if len(dead) >= n else None


async def test_a_poison_among_single_events_costs_two_attempts_not_a_savepoint_each(kafka: str, databases: Any) -> None:
    """With ``on`` handlers the consumer knows which message an attempt failed at: the messages before
    it are applied again together, the poison is parked, the rest tried together, so a failed batch of
    200 takes a handful of savepoints instead of one per message."""
    probe = Probe(poison={"k3-2", "k9-7"})
    runtime, app = await _start(kafka, databases, probe, False, consumer_max_attempts=2,
                                consumer_backoff_seconds=0.05)
    savepoints = Counter[str]()
    sa_event.listen(runtime.db.write_engine.sync_engine, "savepoint", lambda *_: savepoints.update(["savepoint"]))
    await _send(kafka, _messages())
    good = KEYS * PER_KEY - 2
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_is(runtime, good), timeout=60, message="every good message applied")
        await eventually(lambda: _has_dead_letters(runtime, 2), message="both poisons dead-lettered")
    rows = await _applied(runtime)
    assert len({r["thing_id"] for r in rows}) == len(rows) == good
    assert _per_key(rows)["k9"] == [s for s in range(PER_KEY) if s != 7], "order per key kept"
    assert probe.calls["k3-2"] == probe.calls["k9-7"] == 2, "each poison's handler ran consumer_max_attempts times"
    assert savepoints["savepoint"] <= 12, savepoints  # one per message (200) before
