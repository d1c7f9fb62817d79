"""An idle consumer sleeps in long fetches (issue 17: an idle platform that sleeps) and still applies
a new event promptly, on the settings' defaults, against the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from agency_common.contracts.envelope import Envelope, EventPayload, make_envelope
from agency_common.contracts.registry import _REGISTRY, event
from agency_common.messaging.admin import ensure_topics
from agency_common.outbox import Transaction, messaging_tables
from agency_common.settings import ServiceSettings
from agency_common.web.runtime import ServiceRuntime
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from tests.support.inprocess import eventually

TOPIC = "test.idle-things.v1"
OTHER = "test.idle-other.v1"


class IdleThing(EventPayload):
    topic: ClassVar[str] = TOPIC
    event_type: ClassVar[str] = "test.idle-thing.happened"

    thing_id: str

    def key(self) -> str:
        return self.thing_id


class OtherThing(IdleThing):
    topic: ClassVar[str] = OTHER
    event_type: ClassVar[str] = "test.idle-other.happened"


@pytest.fixture(autouse=True)
def _registered_test_events() -> Iterator[None]:
    event(IdleThing)
    event(OtherThing)
    yield
    _REGISTRY.pop(TOPIC, None)
    _REGISTRY.pop(OTHER, None)


metadata = MetaData()
messaging = messaging_tables(metadata)
effects = Table("idle_effects", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("thing_id", String(50), nullable=False))


async def _apply(tx: Transaction, env: Envelope[Any]) -> None:
    await tx.session.execute(insert(effects), {"thing_id": env.payload.thing_id})


async def _applied(runtime: ServiceRuntime) -> int:
    async with runtime.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(effects)) or 0)


async def test_an_idle_consumer_on_the_default_poll_settings_applies_a_new_event_promptly(
        kafka: str, databases: Any) -> None:
    # several topics of several partitions: the case where the embedded broker holds a fetch longest
    await ensure_topics(kafka, [TOPIC, OTHER], partitions=4)
    defaults = ServiceSettings()
    # only the group join made quick; the poll settings (fetch wait, fetcher timeout, batch timeout) are
    # the defaults an idle platform runs on
    settings = ServiceSettings(service_name="idle-probe", database_url=databases.new("idle"),
                               kafka_bootstrap_servers=kafka, kafka_session_timeout_ms=2000,
                               kafka_heartbeat_interval_ms=500)
    assert defaults.kafka_fetch_max_wait_ms >= 1000, "an idle consumer asks the broker about once a second"
    runtime = ServiceRuntime(settings, messaging, title="Idle probe")
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    runtime.consumer.on(IdleThing, _apply)
    runtime.consumer.on(OtherThing, _apply)
    app = runtime.create_app()
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            await producer.send_and_wait(TOPIC, make_envelope(IdleThing(thing_id="warm"), producer="test",
                                                              actor="tester", correlation_id="idle").to_bytes(), key=b"warm")
            await eventually(lambda: _count_is(runtime, 1), timeout=60, message="the consumer joined its group")
            waits = []
            for i, (topic, cls) in enumerate([(TOPIC, IdleThing), (OTHER, OtherThing), (TOPIC, IdleThing)]):
                await asyncio.sleep(2.5)  # at rest: the consumer is in its long fetches
                t0 = time.perf_counter()
                await producer.send_and_wait(topic, make_envelope(cls(thing_id=f"t-{i}"), producer="test",
                                                                  actor="tester", correlation_id="idle").to_bytes(), key=f"t-{i}".encode())
                await eventually(lambda n=i + 2: _count_is(runtime, n), timeout=10, interval=0.01,
                                 message="a new event applied after rest")
                waits.append(time.perf_counter() - t0)
    finally:
        await producer.stop()
    # well under a second each (about 0.1-0.4 s on a quiet machine); bounded loosely for a loaded one
    assert max(waits) < 2.0, waits


async def _count_is(runtime: ServiceRuntime, n: int) -> bool:
    return await _applied(runtime) >= n
