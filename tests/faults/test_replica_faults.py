"""Two replicas of reporting on one PostgreSQL database (as deploy/k8s runs them): the scheduled Team
Screens batch runs once per interval between them, each snapshot's event is published once by the two
relays sharing one outbox, and the upstream events they share as one consumer group are applied once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from agency_common.contracts import topics
from agency_common.contracts.envelope import make_envelope
from agency_common.contracts.upstream import ActivityUpserted
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.faults.conftest import SCALE, FaultReport, scaled
from tests.support.databases import using_postgres
from tests.support.inprocess import eventually, run_service

INTERVAL = 2.0  # seconds between scheduled Team Screens runs


async def _publish_activities(bootstrap: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10)
    await producer.start()
    try:
        now = datetime.now(UTC)
        futures = []
        for i in range(n):
            activity_id = f"A-{i}-{uuid.uuid4().hex[:8]}"
            env = make_envelope(ActivityUpserted(activity_id=activity_id, version=1, subject=f"Call {i}",
                                                 assigned_user="ann", status="open", target_date=now),
                                producer="crm", actor="crm-sync", correlation_id="replicas")
            futures.append(await producer.send(topics.UPSTREAM_ACTIVITIES, env.to_bytes(), key=activity_id.encode(),
                                               headers=[(k, v.encode()) for k, v in env.headers().items()]))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _messages_on(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    seen = 0
    try:
        while batches := await consumer.getmany(timeout_ms=1500, max_records=1000):
            seen += sum(len(records) for records in batches.values())
        return seen
    finally:
        await consumer.stop()


@pytest.mark.slow
@pytest.mark.skipif(not using_postgres(), reason="replicas of a service share a PostgreSQL database")
async def test_two_reporting_replicas_run_team_screens_once_per_interval_and_apply_events_once(
        platform_env, databases, token_for, kafka) -> None:
    url = databases.new("reporting")
    n = scaled(2000)
    report = FaultReport("two reporting replicas on one PostgreSQL database", sent=n)
    settings = {"team_screens_interval_seconds": INTERVAL}
    async with AsyncExitStack() as pods:
        first_started = time.monotonic()  # the schedule runs from here (pod A's first run at its start)
        a = await pods.enter_async_context(run_service("reporting", platform_env, url, **settings))
        await asyncio.sleep(INTERVAL * 0.6)  # the second pod's schedule out of phase with the first's
        b = await pods.enter_async_context(run_service("reporting", platform_env, url, migrate_first=False,
                                                       **settings))
        started = time.monotonic()
        await _publish_activities(kafka, n)
        report.started = time.monotonic()
        async with a.as_user(token_for("admin")) as client_a, b.as_user(token_for("admin")) as client_b:
            async def activities_counted() -> int:
                rows = (await client_b.get("/api/operations/events")).json()
                return sum(r["count"] for r in rows if r["event_type"] == "upstream.activity.upserted")

            await eventually(lambda: _at_least(activities_counted, n), timeout=180 * SCALE,
                             message=f"{n} activities applied")
            report.recovered()
            # let the schedule run for several intervals with both pods up
            await asyncio.sleep(max(0.0, 6 * INTERVAL - (time.monotonic() - started)))
            counted = await activities_counted()
            snapshots = (await client_a.get("/api/team-screens/snapshots", params={"limit": 500})).json()
        elapsed = time.monotonic() - first_started
    scheduled = sorted(datetime.fromisoformat(s["calculated_on"]) for s in snapshots
                       if s["triggered_by"] == "schedule")
    gaps = [(b_ - a_).total_seconds() for a_, b_ in pairwise(scheduled)]
    on_wire = await _messages_on(kafka, topics.REPORTING_TEAM_SCREENS)
    report.applied, report.lost, report.doubled = counted, max(0, n - counted), max(0, counted - n)
    report.notes.update({"snapshots": len(scheduled), "seconds_scheduled": round(elapsed, 1),
                         "interval": INTERVAL, "smallest_gap_s": round(min(gaps), 2) if gaps else None,
                         "team_screens_events_on_the_wire": on_wire})
    report.publish()
    assert counted == n, "each upstream event applied once between the two replicas"
    assert scheduled, "the schedule ran"
    # one pod alone would run about elapsed / INTERVAL times; two without coordination, twice that
    assert len(scheduled) <= elapsed / INTERVAL + 2, f"{len(scheduled)} snapshots in {elapsed:.0f} s"
    assert all(gap >= INTERVAL / 2 - 0.2 for gap in gaps), f"two runs closer than half the interval: {gaps}"
    assert on_wire == len(snapshots), "each snapshot's event published once by the two relays"


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


@pytest.mark.slow
@pytest.mark.skipif(not using_postgres(), reason="replicas of a service share a PostgreSQL database")
async def test_consumer_group_grows_to_three_and_shrinks_to_one_mid_stream(
        platform_env, databases, token_for, kafka) -> None:
    """Replicas join and leave while events stream in: every rebalance hands partitions over, and the
    partitions' new owners read from the last commit (the inbox skips what was applied)."""
    url = databases.new("reporting")
    n = scaled(6000)
    report = FaultReport("consumer group 1 → 3 → 1 mid-stream (reporting, PostgreSQL)", sent=n)
    async with AsyncExitStack() as first:
        a = await first.enter_async_context(run_service("reporting", platform_env, url))
        async with a.as_user(token_for("admin")) as client:
            async def applied() -> int:
                rows = (await client.get("/api/operations/events")).json()
                return sum(r["count"] for r in rows if r["event_type"] == "upstream.activity.upserted")

            stream = asyncio.create_task(_publish_in_waves(kafka, n, waves=6))
            async with AsyncExitStack() as more:
                for _ in range(2):  # 1 → 3
                    await more.enter_async_context(run_service("reporting", platform_env, url, migrate_first=False))
                await eventually(lambda: _at_least(applied, n // 2), timeout=180 * SCALE, message="half applied")
            # 3 → 1 (the two leave mid-stream)
            await stream
            report.started = time.monotonic()
            await eventually(lambda: _at_least(applied, n), timeout=240 * SCALE, message=f"{n} applied")
            report.recovered()
            await asyncio.sleep(2)  # a late redelivery applied twice would show as a count above n
            counted = await applied()
    report.applied, report.lost, report.doubled = counted, max(0, n - counted), max(0, counted - n)
    report.publish()
    assert counted == n, "each event applied once through the rebalances"


async def _publish_in_waves(bootstrap: str, n: int, waves: int) -> None:
    for _ in range(waves):
        await _publish_activities(bootstrap, n // waves)
        await asyncio.sleep(1.0)
