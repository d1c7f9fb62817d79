"""Messaging throughput through the real embedded broker: outbox writes, relay publishing, and a
consumer applying events with its inbox, on SQLite (default) or PostgreSQL.

    .venv/bin/python bench/messaging.py [--events 20000] [--database-url postgresql+asyncpg://...]
                                        [--faststream-relay] [--poison 0.01]
                                        [--handler batch|refusing|single]

``--faststream-relay`` times the relay publishing through FastStream's ``broker.publish`` (what it
did until session 4) instead of its own aiokafka producer, for comparison.

``--poison 0.01``: that share of the events (spread at random, fixed seed) fails its handler every
time, so each is retried with the default backoff and attempts and dead-lettered; the consume stage
is then timed until every good event is applied and every poison is in ``dead_letters`` (issue 20:
within 2x of the same stream without poison). The ``batch`` handler (``on_batch``) raises on a
batch holding poison without saying which, so the consumer finds it by bisecting; ``refusing`` names
the events it cannot apply (``EventsRefused``), so the rest is applied at once; ``single`` registers
the handler with ``on`` (one event at a time).

The consume stage is compared with a raw FastStream batch subscriber reading the same events
from the same topic in the same run (bytes only: no decode, no database), the ceiling the
consumer path is measured against (issue 17: at least a third of it).

Prints events per second for each stage; figures go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from agency_common.messaging.admin import ensure_topics
from agency_common.messaging.broker import kafka_headers
from agency_common.messaging.consumer import EventsRefused
from agency_common.outbox import Transaction, messaging_tables
from agency_common.settings import ServiceSettings
from agency_common.web.runtime import ServiceRuntime
from agency_platform.launcher import free_port, start_broker
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select


def _runtime(name: str, url: str, bootstrap: str, md: MetaData, tables: Any) -> ServiceRuntime:
    settings = ServiceSettings(service_name=name, database_url=url, kafka_bootstrap_servers=bootstrap,
                               kafka_session_timeout_ms=2000, kafka_heartbeat_interval_ms=500,
                               log_level="WARNING", outbox_sweep_seconds=0.2)
    return ServiceRuntime(settings, tables, title=name)


async def publish_through_faststream(broker: Any, events: Any) -> None:
    futures = [await broker.publish(ev.payload, topic=ev.topic, key=ev.key.encode(), headers=kafka_headers(ev.headers),
                                    no_confirm=True) for ev in events]
    await asyncio.gather(*futures)


class Poisoned(Exception):
    pass


async def undecoded(_msg: Any) -> None:
    return None  # bytes only: FastStream would json.loads each record of the batch


async def raw_rate(bootstrap: str, topic: str, events: int, settings: ServiceSettings) -> float:
    """Events per second of a bare FastStream batch subscriber (the consumer's subscription settings)
    reading the topic's events as bytes, timed from its first batch like the consumer."""
    broker = KafkaBroker(bootstrap, logger=None)
    seen, done = [0], asyncio.Event()
    marks: list[tuple[float, int]] = []

    @broker.subscriber(topic, group_id="bench-raw", batch=True, max_records=settings.consumer_batch_size,
                       batch_timeout_ms=200, auto_offset_reset="earliest", ack_policy=AckPolicy.MANUAL,
                       fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms, decoder=undecoded)
    async def count(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        seen[0] += sum(1 for r in records if r.value)
        if not marks:
            marks.append((time.perf_counter(), seen[0]))
        await msg.ack()  # commits, as the consumer does per batch
        if seen[0] >= events:
            done.set()

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
        t = time.perf_counter() - marks[0][0]
    finally:
        await broker.stop()
    return (events - marks[0][1]) / t


async def main(events: int, database_url: str | None, faststream_relay: bool = False, poison: float = 0.0,
               handler: str = "batch") -> None:
    tmp = Path(tempfile.mkdtemp())
    port = free_port()
    broker = start_broker(port)
    bootstrap = f"127.0.0.1:{port}"
    await ensure_topics(bootstrap)
    try:
        md_a, md_b = MetaData(), MetaData()
        tables_a, tables_b = messaging_tables(md_a), messaging_tables(md_b)
        effects = Table("effects", md_b, Column("id", Integer, primary_key=True), Column("policy_id", String(36)))
        url_a = database_url or f"sqlite+aiosqlite:///{tmp}/a.db"
        url_b = (database_url + "_b") if database_url else f"sqlite+aiosqlite:///{tmp}/b.db"
        producer = _runtime("bench-producer", url_a, bootstrap, md_a, tables_a)
        consumer = _runtime("bench-consumer", url_b, bootstrap, md_b, tables_b)
        for rt, md in ((producer, md_a), (consumer, md_b)):
            async with rt.db.engine.begin() as conn:
                await conn.run_sync(md.drop_all)
                await conn.run_sync(md.create_all)

        async def apply(tx: Transaction, envs: list[Envelope[Any]]) -> None:
            await tx.session.execute(insert(effects), [{"policy_id": e.payload.policy.policy_id} for e in envs])
            bad = [e for e in envs if e.payload.policy.policy_number.startswith("POISON")]
            if bad and handler == "refusing":
                raise EventsRefused({e.event_id: Poisoned(f"cannot apply {e.payload.policy.policy_number}") for e in bad})
            if bad:
                raise Poisoned(f"cannot apply {bad[0].payload.policy.policy_number}")

        if handler == "single":
            consumer.consumer.on(PolicyCreated, lambda tx, env: apply(tx, [env]))
        else:
            consumer.consumer.on_batch(PolicyCreated, apply)
        now = datetime.now(UTC)
        poisoned = set(random.Random(20).sample(range(events), round(events * poison)))
        payloads = [PolicyCreated(policy=PolicySnapshot(
            policy_id=str(uuid.uuid4()), version=1, carrier="Bench",
            policy_number=f"POISON-{i}" if i in poisoned else f"B-{i}", client_name=f"C{i}", updated_at=now))
            for i in range(events)]
        good = events - len(poisoned)

        t0 = time.perf_counter()
        for start in range(0, events, 1000):
            async with producer.uow(actor="bench") as tx:
                await tx.emit_many(payloads[start:start + 1000])
        t_outbox = time.perf_counter() - t0

        app_c = consumer.create_app()
        await producer.broker.start()
        if faststream_relay:
            producer.relay.publish = partial(publish_through_faststream, producer.broker)
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        published = await producer.relay.drain()
        t_relay = time.perf_counter() - t0
        cpu_relay = time.process_time() - cpu0
        assert published == events, published

        raw = await raw_rate(bootstrap, PolicyCreated.topic, events, consumer.settings)

        dead_letters = tables_b.dead_letters
        async with app_c.router.lifespan_context(app_c):
            t0 = None
            while True:
                async with consumer.db.session() as s:
                    done = await s.scalar(select(func.count()).select_from(effects))
                    dead = await s.scalar(select(func.count()).select_from(dead_letters))
                if done and t0 is None:
                    t0, first = time.perf_counter(), done  # timed from the first applied batch: no group join
                if done >= good and dead >= len(poisoned):
                    break
                await asyncio.sleep(0.02)
            t_consume = time.perf_counter() - t0
        assert done == good and dead == len(poisoned), (done, dead)
        await producer.broker.stop()
        await producer.db.dispose()

        db = "PostgreSQL" if database_url else "SQLite"
        print(f"messaging bench, {events} events, {db}, embedded broker")
        print(f"  outbox writes (emit_many, 1,000 per transaction): {events / t_outbox:,.0f} events/s")
        via = "FastStream publish" if faststream_relay else "own aiokafka producer"
        print(f"  relay publish (batches of 500, acks=all):        {events / t_relay:,.0f} events/s "
              f"({via}; {cpu_relay / events * 1e6:.0f} µs CPU per event)")
        via = {"batch": "on_batch", "refusing": "on_batch naming refused events", "single": "on, one at a time"}[handler]
        print(f"  consume + inbox + effect ({via}, 500 a batch): {(events - first) / t_consume:,.0f} events/s, "
              f"drained in {t_consume:.1f} s; {len(poisoned)} poison events ({poison:.1%}) dead-lettered")
        rate = (events - first) / t_consume
        print(f"  raw FastStream batch subscriber (bytes only):      {raw:,.0f} events/s; "
              f"consume / raw = 1/{raw / rate:.1f} ({rate / raw:.2f})")
    finally:
        broker.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--faststream-relay", action="store_true")
    parser.add_argument("--poison", type=float, default=0.0, help="share of events that always fail, e.g. 0.01")
    parser.add_argument("--handler", choices=["batch", "refusing", "single"], default="batch")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.database_url, args.faststream_relay, args.poison, args.handler))
