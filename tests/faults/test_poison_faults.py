"""1 % poison between real processes (issue 20 items 1 and 2): CRM individuals streamed to intake, one in a
hundred with a date of birth intake refuses. Every good one is stored once, every poison is dead-lettered
once in intake's table and on the dead-letter topic and counted once by reporting, and the stream drains
in about the time the same stream without poison takes (the ratio is reported, not asserted: speed is
measured by benchmarks, and a loaded machine would make a bound flaky)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import httpx
import pytest
from agency_common.contracts import topics
from agency_common.contracts.envelope import make_envelope
from agency_common.contracts.upstream import IndividualUpserted
from aiokafka import AIOKafkaProducer

from tests.faults.conftest import SCALE, FaultReport, scaled
from tests.support.services import ServiceHarness, api, wait_until


async def _publish(kafka: str, run: str, total: int, poisoned: set[int]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = []
        for i in range(total):
            external_id = f"{run}-{i:06d}"
            dob = "1990-13-45" if i in poisoned else "1980-01-02"  # a month 13: the contract passes it, intake refuses it
            env = make_envelope(IndividualUpserted(external_id=external_id, version=1, fields={
                "first_name": "Pat", "last_name": f"Stream {i}", "dob": dob}),
                producer="crm", actor="crm", correlation_id=f"poison-{run}")
            futures.append(await producer.send(topics.UPSTREAM_INDIVIDUALS, env.to_bytes(), key=external_id.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _stored(database_url: str, run: str) -> tuple[int, int]:
    """Individuals of this run in intake's database, and intake's dead letters of this run."""
    from agency_common.db import Database
    from agency_common.outbox import messaging_tables
    from intake.models import Individual
    from sqlalchemy import MetaData, func, select

    dead_letters = messaging_tables(MetaData()).dead_letters

    async def count() -> tuple[int, int]:
        db = Database(database_url)
        try:
            async with db.session() as s:
                people = await s.scalar(select(func.count()).select_from(Individual).where(
                    Individual.external_id.like(f"{run}-%")))
                dead = await s.scalar(select(func.count()).select_from(dead_letters).where(
                    dead_letters.c.topic == topics.UPSTREAM_INDIVIDUALS))
                return int(people or 0), int(dead or 0)
        finally:
            await db.dispose()

    return asyncio.run(count())


def _reporting_dead_letters(url: str, token: str) -> int:
    with api(url, token) as client:
        rows = client.get("/api/operations/dead-letters").json()
    return sum(r["count"] for r in rows if r["topic"] == topics.UPSTREAM_INDIVIDUALS)


@pytest.mark.slow
def test_one_percent_poison_costs_its_own_messages_and_is_counted_once(harness: ServiceHarness, kafka: str,
                                                                        token_for) -> None:
    intake = harness.start("intake")
    reporting = harness.start("reporting")
    token = token_for("admin")
    for svc in (intake, reporting):
        wait_until(lambda s=svc: httpx.get(f"{s.url}/readyz").status_code == 200, timeout=120)
    total = scaled(2_000)
    poisoned = set(random.Random(20).sample(range(total), total // 100))
    good = total - len(poisoned)

    def drain(run: str, bad: set[int]) -> float:
        asyncio.run(_publish(kafka, run, total, bad))
        started = time.monotonic()
        wait_until(lambda: _stored(intake.database_url, run) == (total - len(bad), len(bad)),
                   timeout=300 * SCALE, interval=0.2, message=f"{run}: every good individual stored, every poison dead-lettered")
        return time.monotonic() - started

    clean = drain("clean-" + uuid.uuid4().hex[:6], set())
    report = FaultReport("1 % poison among CRM individuals streamed to intake", sent=total)
    run = "poison-" + uuid.uuid4().hex[:6]
    poisoned_drain = drain(run, poisoned)
    wait_until(lambda: _reporting_dead_letters(reporting.url, token) >= len(poisoned), timeout=120 * SCALE,
               interval=0.5, message="reporting counts every dead letter")
    time.sleep(2)  # a late second copy would show up as a count above the poisons
    stored, dead = _stored(intake.database_url, run)
    counted = _reporting_dead_letters(reporting.url, token)
    report.applied, report.lost, report.doubled = stored, good - stored, max(0, stored - good)
    report.recovery_seconds = round(poisoned_drain, 1)
    report.notes.update({"poison": len(poisoned), "dead_lettered": dead, "counted_by_reporting": counted,
                         "drain_without_poison_s": round(clean, 1), "ratio": round(poisoned_drain / clean, 2)})
    report.publish()
    assert stored == good, "every good individual stored once"
    assert dead == len(poisoned), "every poison dead-lettered once in intake"
    assert counted == len(poisoned), "reporting counts each dead letter once"
