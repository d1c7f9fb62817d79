"""One owner at a time among a service's replicas (issue 20 item 0): a lease is taken by one instance,
renewed while it works, taken over only once its holder stopped renewing; a background job runs on one
replica only, a replica that loses the lease stops without marking anything, and a survivor picks up
the job a killed replica left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from agency_common.db.engine import Database
from agency_common.jobs import JobRunner
from agency_common.leases import LeaseLost, Leases
from agency_common.outbox.tables import leases_table
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, insert, select, update

metadata = MetaData()
JOBS = Table("jobs", metadata, Column("id", String(36), primary_key=True), Column("status", String(20)),
             Column("error", Text), Column("created_at", DateTime(timezone=True)),
             Column("finished_at", DateTime(timezone=True)))
LEASES = leases_table(metadata)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
SHORT = timedelta(seconds=3)  # renewed every 0.75 s: room for a loaded machine


async def _database(databases, jobs: list[tuple[str, str]] = ()) -> Database:
    db = Database(databases.new("leases"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        if jobs:
            await conn.execute(insert(JOBS), [{"id": i, "status": st, "created_at": T0 + timedelta(minutes=n)}
                                              for n, (i, st) in enumerate(jobs)])
    return db


async def _status(db: Database, job_id: str) -> tuple[str, str | None]:
    async with db.session() as s:
        return tuple((await s.execute(select(JOBS.c.status, JOBS.c.error).where(JOBS.c.id == job_id))).one())


async def _eventually(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_lease_has_one_holder_until_it_runs_out(databases) -> None:
    db = await _database(databases)
    a, b = Leases(db, LEASES, "pod-a", SHORT), Leases(db, LEASES, "pod-b", SHORT)
    try:
        assert await a.take("import:1")
        assert await a.take("import:1"), "taking one's own lease again is fine"
        assert not await b.take("import:1")
        assert await a.renew("import:1") and await a.holder_of("import:1") == "pod-a"
        assert await b.take("import:2"), "another name is another lease"
        await a.release("import:1")
        assert await b.take("import:1"), "handed back: taken at once"
        assert not await a.renew("import:1"), "a renewal after losing the lease says so"
        # pod-b stops renewing (killed): once its time has run out, pod-a takes over
        async with db.transaction() as s:
            await s.execute(update(LEASES).where(LEASES.c.name == "import:1")
                            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        assert await a.take("import:1")
        assert await a.holder_of("import:1") == "pod-a"
    finally:
        await db.dispose()


async def test_two_replicas_run_a_job_once(databases) -> None:
    db = await _database(databases, [("job-1", "queued")])
    runs: list[str] = []
    release = asyncio.Event()

    def work_of(pod: str):
        async def work(job_id: str) -> None:
            runs.append(pod)
            await release.wait()
            async with db.transaction() as s:
                await s.execute(update(JOBS).where(JOBS.c.id == job_id).values(status="done"))
        return work

    a = JobRunner(db, JOBS, work_of("pod-a"), name="imports", leases=Leases(db, LEASES, "pod-a", SHORT))
    b = JobRunner(db, JOBS, work_of("pod-b"), name="imports", leases=Leases(db, LEASES, "pod-b", SHORT))
    try:
        first = a.launch("job-1")
        await _eventually(lambda: _true(runs))
        await b.launch("job-1")  # pod-b finds the lease held: returns without running
        assert runs == ["pod-a"]
        await asyncio.sleep(SHORT.total_seconds() * 1.5)  # past one whole lease: pod-a kept renewing it
        await b.launch("job-1")
        assert runs == ["pod-a"]
        release.set()
        await first
        assert await _status(db, "job-1") == ("done", None)
        assert await a.leases.holder_of("imports:job-1") is None, "the lease is handed back when the job ends"
    finally:
        await db.dispose()


async def _true(items: list) -> bool:
    return bool(items)


async def test_a_replica_that_loses_the_lease_stops_and_marks_nothing(databases) -> None:
    db = await _database(databases, [("job-1", "running")])
    stopped = asyncio.Event()
    started = asyncio.Event()

    async def work(job_id: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    leases = Leases(db, LEASES, "pod-a", SHORT)
    runner = JobRunner(db, JOBS, work, name="imports", leases=leases)
    try:
        task = runner.launch("job-1")
        await asyncio.wait_for(started.wait(), 60)
        async with db.transaction() as s:  # pod-b took the job over (pod-a was thought gone)
            await s.execute(update(LEASES).where(LEASES.c.name == "imports:job-1").values(holder="pod-b"))
        await asyncio.wait_for(stopped.wait(), 60)
        await task
        assert await _status(db, "job-1") == ("running", None), "neither failed nor done: pod-b's to finish"
        assert await Leases(db, LEASES, "x").holder_of("imports:job-1") == "pod-b"
    finally:
        await db.dispose()


async def test_a_survivor_takes_over_the_job_a_killed_replica_left(databases) -> None:
    db = await _database(databases, [("job-1", "running")])
    async with db.transaction() as s:  # pod-a was killed mid-job: its lease is still there
        await s.execute(insert(LEASES).values(name="imports:job-1", holder="pod-a",
                                              lease_until=datetime.now(UTC) + SHORT, taken_at=datetime.now(UTC)))
    runs: list[str] = []

    async def work(job_id: str) -> None:
        runs.append(job_id)
        async with db.transaction() as s:
            await s.execute(update(JOBS).where(JOBS.c.id == job_id).values(status="done"))

    survivor = JobRunner(db, JOBS, work, name="imports", leases=Leases(db, LEASES, "pod-b", SHORT))
    lifetime = asyncio.create_task(survivor.run())
    try:
        await _eventually(lambda: _done(db))
        assert runs == ["job-1"]
    finally:
        lifetime.cancel()
        await asyncio.gather(lifetime, return_exceptions=True)
        await db.dispose()


async def _done(db: Database) -> bool:
    return (await _status(db, "job-1"))[0] == "done"


async def test_run_holding_raises_lease_lost_and_cancels_the_work(databases) -> None:
    db = await _database(databases)
    leases = Leases(db, LEASES, "pod-a", SHORT)
    try:
        assert await leases.take("x:1")
        async with db.transaction() as s:
            await s.execute(update(LEASES).values(holder="pod-b"))
        try:
            await asyncio.wait_for(leases.run_holding("x:1", asyncio.Event().wait()), 60)
        except LeaseLost as lost:
            assert lost.name == "x:1"
        else:
            raise AssertionError("the work went on without its lease")
    finally:
        await db.dispose()
