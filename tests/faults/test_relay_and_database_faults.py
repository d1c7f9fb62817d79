"""Faults between the outbox, the broker and the database, on the real embedded broker and the test
database: a relay that dies after the broker's ack and before marking its rows sent (duplicates on the
wire, no doubled effect), and a consumer whose database connections are killed mid-batch."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from agency_common.contracts import topics
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from agency_common.outbox import Transaction, messaging_tables
from agency_common.outbox.relay import PendingEvent
from agency_common.settings import ServiceSettings
from agency_common.web.runtime import ServiceRuntime
from aiokafka import AIOKafkaConsumer
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from tests.faults.conftest import SCALE, FaultReport, scaled
from tests.support.databases import PG_HOST, PG_PORT, PG_USER, DatabaseFactory, using_postgres


class RelayKilled(BaseException):
    """The relay's process dying: not an error it could handle (nothing after it runs)."""


def _runtime(name: str, url: str, bootstrap: str, md: MetaData, **settings: Any) -> ServiceRuntime:
    s = ServiceSettings(service_name=name, database_url=url, kafka_bootstrap_servers=bootstrap,
                        kafka_session_timeout_ms=6000, kafka_heartbeat_interval_ms=1000, log_level="WARNING",
                        **settings)
    return ServiceRuntime(s, messaging_tables(md), title=name)


class Stream:
    """A producing service (its outbox) and a consuming one whose effect would double if an event were
    applied twice: one row per consumed event, however often the event is delivered."""

    def __init__(self, databases: DatabaseFactory, bootstrap: str, **consumer_settings: Any) -> None:
        self.md_p, self.md_c = MetaData(), MetaData()
        self.effects = Table("effects", self.md_c, Column("id", Integer, primary_key=True),
                             Column("policy_id", String(36), nullable=False))
        self.producer = _runtime("fault-producer", databases.new("producer"), bootstrap, self.md_p)
        self.consumer = _runtime("fault-consumer", databases.new("consumer"), bootstrap, self.md_c,
                                 **consumer_settings)

        async def apply(tx: Transaction, envs: list[Envelope[Any]]) -> None:
            await tx.session.execute(insert(self.effects), [{"policy_id": e.payload.policy.policy_id} for e in envs])

        self.consumer.consumer.on_batch(PolicyCreated, apply)

    async def create_tables(self) -> None:
        for rt, md in ((self.producer, self.md_p), (self.consumer, self.md_c)):
            async with rt.db.engine.begin() as conn:
                await conn.run_sync(md.create_all)

    async def write_events(self, n: int) -> None:
        now = datetime.now(UTC)
        for start in range(0, n, 1000):
            async with self.producer.uow(actor="faults") as tx:
                await tx.emit_many(PolicyCreated(policy=PolicySnapshot(
                    policy_id=str(uuid.uuid4()), version=1, carrier="Faults", policy_number=f"F-{i}",
                    client_name=f"C {i}", updated_at=now)) for i in range(start, min(n, start + 1000)))

    async def effects_seen(self) -> tuple[int, int]:
        """Rows applied, and distinct events among them."""
        async with self.consumer.db.session() as s:
            row = (await s.execute(select(func.count(), func.count(func.distinct(self.effects.c.policy_id))))).one()
        return int(row[0]), int(row[1])

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.producer.outbox_publisher.stop()
        await self.producer.db.dispose()
        await self.consumer.db.dispose()


async def _on_the_wire(bootstrap: str, topic: str, expected: int) -> int:
    """Messages the broker holds on a topic (duplicates included), read back from the start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    seen = 0
    try:
        deadline = time.monotonic() + 60 * SCALE
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(records) for records in batches.values())
            if not batches and seen >= expected:
                break
        return seen
    finally:
        await consumer.stop()


async def _wait_for(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await probe()
        except Exception as exc:  # noqa: BLE001 - a probe's own connection may be one of those killed
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


@pytest.mark.slow
async def test_relay_killed_after_the_brokers_ack_doubles_no_effect(kafka: str, databases: DatabaseFactory) -> None:
    stream = Stream(databases, kafka)
    await stream.create_tables()
    sent = scaled(3000)
    kills = 5
    report = FaultReport("relay killed -9 after the broker's ack, before marking sent", sent=sent)
    try:
        await stream.write_events(sent)
        relay = stream.producer.relay
        relay.batch_size = max(50, sent // (2 * kills + 2))  # several batches between kills
        real_publish = stream.producer.outbox_publisher
        republished = 0

        for kill in range(kills):
            published_batches = 0

            async def publish_then_die(rows: Sequence[PendingEvent], every: int = kill % 2 + 1) -> None:
                nonlocal published_batches, republished
                await real_publish(rows)  # acknowledged by the broker (acks=all) ...
                published_batches += 1
                if published_batches == every:
                    republished += len(rows)
                    raise RelayKilled  # ... and the relay dies before its rows are marked sent

            relay.publish = publish_then_die
            with pytest.raises(RelayKilled):
                await relay.drain()
        relay.publish = real_publish  # the restarted relay
        await relay.drain()
        assert (await relay.backlog())[0] == 0, "every row marked sent in the end"

        on_wire = await _on_the_wire(kafka, topics.INTAKE_POLICIES, sent + republished)
        assert on_wire == sent + republished, "the rows of each killed pass are on the wire twice"

        app = stream.consumer.create_app()
        report.started = time.monotonic()
        async with app.router.lifespan_context(app):
            await _wait_for(lambda: _all_seen(stream, sent), 180 * SCALE, f"all {sent} events applied")
            report.recovered()
            rows, distinct = await stream.effects_seen()
        report.applied, report.lost, report.doubled = distinct, sent - distinct, rows - distinct
        report.notes.update({"on_the_wire": on_wire, "duplicates_on_the_wire": republished, "kills": kills})
        report.publish()
        assert (rows, distinct) == (sent, sent), "each event applied once however often it was delivered"
    finally:
        await stream.close()


async def _all_seen(stream: Stream, n: int) -> bool:
    return (await stream.effects_seen())[1] >= n


class ConnectionKiller:
    """Terminates every connection to one PostgreSQL database at an interval until told to stop, as an
    administrator's ``pg_terminate_backend`` or a failover does, and counts them."""

    def __init__(self, database: str, every: float, progress: Callable[[], int] | None = None) -> None:
        """``progress``: a count that must move between two kills (or 5 s pass), so that a loaded
        machine, where a request outlasts the interval, still gets work through between kills."""
        self.database, self.every, self.progress = database, every, progress
        self.killed = 0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        try:
            while not self.stop.is_set():
                before = self.progress() if self.progress else 0
                self.killed += len(await conn.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.database))
                await asyncio.sleep(self.every)
                deadline = time.monotonic() + 5
                while self.progress and self.progress() == before and time.monotonic() < deadline \
                        and not self.stop.is_set():
                    await asyncio.sleep(0.05)
        finally:
            await conn.close()


@pytest.mark.slow
@pytest.mark.skipif(not using_postgres(), reason="pg_terminate_backend is PostgreSQL's")
async def test_consumer_database_connections_killed_mid_batch(kafka: str, databases: DatabaseFactory) -> None:
    stream = Stream(databases, kafka, consumer_batch_size=100)
    await stream.create_tables()
    sent = scaled(5000)
    report = FaultReport("consumer's database connections killed mid-batch (pg_terminate_backend)", sent=sent)
    killer = ConnectionKiller(stream.consumer.db.engine.url.database, every=0.3)

    try:
        await stream.write_events(sent)
        await stream.producer.relay.drain()
        app = stream.consumer.create_app()
        async with app.router.lifespan_context(app):
            await _wait_for(lambda: _some_seen(stream), 120 * SCALE, "the consumer starts applying")
            killing = asyncio.create_task(killer.run())
            # kill for a while mid-stream, then let it recover
            with contextlib.suppress(AssertionError):
                await _wait_for(lambda: _all_seen(stream, sent // 2), 20 * SCALE, "half applied under kills")
            killer.stop.set()
            await killing
            report.started = time.monotonic()
            await _wait_for(lambda: _all_seen(stream, sent), 240 * SCALE, f"all {sent} events applied")
            report.recovered()
            rows, distinct = await stream.effects_seen()
        report.applied, report.lost, report.doubled = distinct, sent - distinct, rows - distinct
        report.notes["connections_killed"] = killer.killed
        report.publish()
        assert killer.killed > 0, "the experiment must have killed connections"
        assert (rows, distinct) == (sent, sent), "nothing lost, nothing doubled"
    finally:
        await stream.close()


async def _some_seen(stream: Stream) -> bool:
    return (await stream.effects_seen())[1] > 0


@pytest.mark.slow
@pytest.mark.skipif(not using_postgres(), reason="pg_terminate_backend is PostgreSQL's")
async def test_http_answers_503_while_database_connections_are_killed(start_service, token_for) -> None:
    """Requests while intake's connections are killed get their answer or a 503 to retry, never a 500 or
    a hang; a client retrying with its Idempotency-Key ends with each policy created once."""
    intake = await start_service("intake")
    created: list[int] = []
    killer = ConnectionKiller(intake.runtime.db.engine.url.database, every=0.2, progress=lambda: len(created))
    n = scaled(150)
    report = FaultReport("HTTP while the database connections are killed (pg_terminate_backend)", sent=n)
    statuses: list[int] = []

    async with intake.as_user(token_for("clerk")) as client:
        assert (await client.post("/api/carriers", json={"name": "Cut Mutual"})).status_code == 201
        sem = asyncio.Semaphore(8)

        async def create(i: int) -> None:
            key = f"cut-{i}-{uuid.uuid4().hex}"
            for _attempt in range(60):
                async with sem:
                    r = await client.post("/api/policies", headers={"Idempotency-Key": key}, json={
                        "carrier": "Cut Mutual", "policy_number": f"CUT-{i:04d}", "client_name": f"Client {i}"})
                statuses.append(r.status_code)
                # 201, or 409 "already applied" when the first try committed but its answer was lost
                # with its connection: both mean created; a 503 is tried again with the same key
                if r.status_code == 201 or (r.status_code == 409 and "already applied" in r.text):
                    created.append(i)
                    return
                last = f"{r.status_code} {r.text[:300]}"
                await asyncio.sleep(0.2)
            raise AssertionError(f"policy {i} never created; last answer {last}; answers {Counter(statuses)}")

        kill_task = asyncio.create_task(killer.run())
        try:
            await asyncio.wait_for(asyncio.gather(*(create(i) for i in range(n))), timeout=300 * SCALE)
        finally:
            killer.stop.set()
            await kill_task
        report.recovered()
        total = (await client.get("/api/policies", params={"carrier": "Cut Mutual", "limit": 1})).json()["total"]
    unexpected = sorted({s for s in statuses if s not in (201, 409, 503)})
    report.applied, report.lost, report.doubled = total, max(0, n - total), max(0, total - n)
    report.notes.update({"connections_killed": killer.killed, "answers_503": statuses.count(503),
                         "answers_409": statuses.count(409), "unexpected": unexpected})
    report.publish()
    assert killer.killed > 0, "the experiment must have killed connections"
    assert not unexpected, f"only 201, or 503/409 to retry: got {unexpected}"
    assert total == n, "each policy created once"
