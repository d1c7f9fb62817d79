"""The consuming mechanism against the real broker: inbox, bounded retries, dead-letter topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from agency_common.contracts.envelope import Envelope, EventPayload, make_envelope
from agency_common.contracts.registry import _REGISTRY, event
from agency_common.messaging.admin import ensure_topics
from agency_common.outbox import Transaction, messaging_tables
from agency_common.settings import ServiceSettings
from agency_common.web.routes import replay
from agency_common.web.runtime import ServiceRuntime
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import HTTPException
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from tests.support.inprocess import eventually

TOPIC = "test.things.v1"


class ThingHappened(EventPayload):
    topic: ClassVar[str] = TOPIC
    event_type: ClassVar[str] = "test.thing.happened"

    thing_id: str
    poison: bool = False

    def key(self) -> str:
        return self.thing_id


@pytest.fixture(autouse=True)
def _registered_test_event() -> Iterator[None]:
    """The test event type exists only while these tests run (the registry is process-wide)."""
    event(ThingHappened)
    yield
    _REGISTRY.pop(TOPIC, None)


metadata = MetaData()
messaging = messaging_tables(metadata)
effects = Table("effects", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("thing_id", String(50), nullable=False))


class Probe:
    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}

    async def handle(self, tx: Transaction, env: Envelope[Any]) -> None:
        thing = env.payload.thing_id
        self.attempts[thing] = self.attempts.get(thing, 0) + 1
        await tx.session.execute(insert(effects), {"thing_id": thing})
        if env.payload.poison:
            raise RuntimeError(f"cannot apply {thing}")


async def _runtime(kafka: str, databases: Any, probe: Probe) -> tuple[ServiceRuntime, Any]:
    await ensure_topics(kafka, [TOPIC, TOPIC + ".dlt"], partitions=1)
    settings = ServiceSettings(service_name="probe", database_url=databases.new("probe"),
                               kafka_bootstrap_servers=kafka, consumer_max_attempts=3,
                               consumer_backoff_seconds=0.02, consumer_batch_size=50)
    runtime = ServiceRuntime(settings, messaging, title="Probe")
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    runtime.consumer.on(ThingHappened, probe.handle)
    app = runtime.create_app()
    return runtime, app


async def _send(kafka: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(TOPIC, value, key=key.encode(),
                                         headers=[("correlation_id", b"corr-1")])
    finally:
        await producer.stop()


async def _read_dlt(kafka: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(TOPIC + ".dlt", bootstrap_servers=kafka, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    got: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(got) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got.extend(records)
    finally:
        await consumer.stop()
    return got


def _envelope(thing_id: str, poison: bool = False) -> bytes:
    return make_envelope(ThingHappened(thing_id=thing_id, poison=poison), producer="test", actor="tester",
                         correlation_id="corr-1").to_bytes()


async def _effects(runtime: ServiceRuntime) -> list[str]:
    async with runtime.db.session() as s:
        return list((await s.execute(select(effects.c.thing_id).order_by(effects.c.id))).scalars())


async def test_poison_goes_to_dlt_after_bounded_retries_and_the_rest_flows(kafka: str, databases: Any) -> None:
    probe = Probe()
    runtime, app = await _runtime(kafka, databases, probe)
    poison = _envelope("t-2", poison=True)
    await _send(kafka, [("t-1", _envelope("t-1")), ("t-2", poison), ("x", b"{not json"),
                        ("t-3", _envelope("t-3")), ("t-4", _envelope("t-4"))])
    async with app.router.lifespan_context(app):
        await eventually(lambda: _effects(runtime), timeout=30)
        await eventually(lambda: _count_effects(runtime, 3), timeout=30, message="good events applied")
        dlt = await _read_dlt(kafka, 2)
        async with runtime.db.session() as s:
            dead = (await s.execute(select(messaging.dead_letters).order_by(messaging.dead_letters.c.id))).mappings().all()

    assert await _effects(runtime) == ["t-1", "t-3", "t-4"], "the poison's effect was rolled back, order kept"
    assert probe.attempts["t-2"] == 3, "tried exactly consumer_max_attempts times"
    by_type = {dict(r.headers)["x-error-type"]: r for r in dlt}
    poisoned = by_type[b"RuntimeError"]
    headers = {k: v.decode() for k, v in poisoned.headers}
    assert poisoned.value == poison and poisoned.key == b"t-2"
    assert headers["x-error"] == "cannot apply t-2" and headers["x-attempts"] == "3"
    assert headers["x-original-topic"] == TOPIC and headers["correlation_id"] == "corr-1"
    malformed = {k: v.decode() for k, v in by_type[b"ContractError"].headers}
    assert malformed["x-attempts"] == "1", "a contract violation is never retried"
    assert sorted(d["error_type"] for d in dead) == ["ContractError", "RuntimeError"]
    assert all(d["payload"] for d in dead), "the operator's list keeps the original bytes for replay"


async def _count_effects(runtime: ServiceRuntime, n: int) -> bool:
    return len(await _effects(runtime)) >= n


async def test_redelivered_event_has_one_effect_and_replay_applies_a_dead_letter(kafka: str, databases: Any) -> None:
    probe = Probe()
    runtime, app = await _runtime(kafka, databases, probe)
    once = _envelope("dup-1")
    await _send(kafka, [("dup-1", once), ("dup-1", once), ("dup-2", _envelope("dup-2"))])
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_effects(runtime, 2), timeout=30)
        await asyncio.sleep(0.5)
        async with runtime.db.session() as s:
            inbox = await s.scalar(select(func.count()).select_from(messaging.inbox))
        assert await _effects(runtime) == ["dup-1", "dup-2"]
        assert inbox == 2

        # A dead letter, once its cause is fixed, can be replayed to its topic and applied.
        fixable = make_envelope(ThingHappened(thing_id="fix-1", poison=True), producer="test", actor="tester",
                                correlation_id="c")
        await _send(kafka, [("fix-1", fixable.to_bytes())])

        async def dead_letter_id() -> int | None:
            async with runtime.db.session() as s:
                return await s.scalar(select(messaging.dead_letters.c.id))

        dl_id = await eventually(dead_letter_id, timeout=30)
        async with runtime.db.transaction() as s:  # "fix the cause": rewrite the stored payload
            data = json.loads(fixable.to_bytes())
            data["payload"]["poison"] = False
            await s.execute(messaging.dead_letters.update().where(messaging.dead_letters.c.id == dl_id)
                            .values(payload=json.dumps(data).encode()))
        result = await replay(runtime, dl_id, "operator")
        assert result["replayed_by"] == "operator"
        await eventually(lambda: _has(runtime, "fix-1"), timeout=30, message="replayed event applied")
        async with runtime.db.session() as s:
            row = (await s.execute(select(messaging.dead_letters).where(messaging.dead_letters.c.id == dl_id))
                   ).mappings().one()
        assert row["replayed_by"] == "operator" and row["replayed_at"] is not None, "marked replayed"
        with pytest.raises(HTTPException) as refused:
            await replay(runtime, dl_id, "operator")
        assert refused.value.status_code == 409, "a dead letter is replayed once"
        # the replayed copy delivered twice (e.g. the broker's ack lost): the inbox applies it once
        await _send(kafka, [("fix-1", json.dumps(data).encode())])
        await _send(kafka, [("after", _envelope("after"))])
        await eventually(lambda: _has(runtime, "after"), timeout=30)
    assert (await _effects(runtime)).count("fix-1") == 1, "the replayed event applied once"


async def _has(runtime: ServiceRuntime, thing: str) -> bool:
    return thing in await _effects(runtime)


async def test_batch_with_duplicates_inside_applies_each_event_once(kafka: str, databases: Any) -> None:
    probe = Probe()
    runtime, app = await _runtime(kafka, databases, probe)
    ids = [f"b-{i}" for i in range(200)]
    messages = [(i, _envelope(i)) for i in ids]
    await _send(kafka, messages + messages[:50])  # 50 redeliveries land in the same batches
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_effects(runtime, 200), timeout=30)
        await asyncio.sleep(1.0)
    applied = await _effects(runtime)
    assert len(applied) == 200 and len(set(applied)) == 200
    assert applied == ids, "per-key order kept within the single partition"
    assert uuid.UUID(json.loads(messages[0][1])["event_id"])


async def test_batch_handler_gets_consecutive_events_at_once_without_duplicates(kafka: str, databases: Any) -> None:
    probe = Probe()
    runtime, app = await _runtime(kafka, databases, probe)
    calls: list[int] = []

    async def handle_many(tx: Transaction, envs: list[Envelope[Any]]) -> None:
        calls.append(len(envs))
        await tx.session.execute(insert(effects), [{"thing_id": e.payload.thing_id} for e in envs])

    runtime.consumer.handlers.clear()
    runtime.consumer.on_batch(ThingHappened, handle_many)
    messages = [(f"m-{i}", _envelope(f"m-{i}")) for i in range(120)]
    await _send(kafka, messages + messages[:10])
    async with app.router.lifespan_context(app):
        await eventually(lambda: _count_effects(runtime, 120), timeout=30)
        await asyncio.sleep(0.5)
    assert await _effects(runtime) == [f"m-{i}" for i in range(120)]
    assert sum(calls) == 120 and len(calls) < 120, "events arrive in runs, each once"
