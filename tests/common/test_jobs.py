"""The background job runner every service uses: a failure is shown on the job, unfinished jobs
resume at start-up oldest first, shutdown leaves a running job to resume, one-at-a-time means one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from agency_common.db.engine import Database
from agency_common.jobs import JobRunner
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, insert, select, update

metadata = MetaData()
JOBS = Table("jobs", metadata, Column("id", String(36), primary_key=True), Column("status", String(20)),
             Column("error", Text), Column("created_at", DateTime(timezone=True)),
             Column("finished_at", DateTime(timezone=True)))
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Refused(Exception):
    pass


async def _database(databases, rows: list[tuple[str, str]]) -> Database:
    db = Database(databases.new("jobs"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        if rows:
            await conn.execute(insert(JOBS), [{"id": i, "status": st, "created_at": T0 + timedelta(minutes=n)}
                                              for n, (i, st) in enumerate(rows)])
    return db


async def _jobs(db: Database) -> dict[str, tuple[str, str | None, bool]]:
    async with db.session() as s:
        rows = (await s.execute(select(JOBS.c.id, JOBS.c.status, JOBS.c.error, JOBS.c.finished_at))).all()
    return {i: (st, err, fin is not None) for i, st, err, fin in rows}


async def test_failures_are_shown_with_their_reason(databases) -> None:
    db = await _database(databases, [("crash", "queued"), ("refused", "queued"), ("fine", "queued")])

    async def work(job_id: str) -> None:
        if job_id == "crash":
            raise RuntimeError("disk full")
        if job_id == "refused":
            raise Refused("the statement was aborted")
        async with db.transaction() as s:
            await s.execute(update(JOBS).where(JOBS.c.id == job_id).values(status="done"))

    runner = JobRunner(db, JOBS, work, name="test", describe=lambda e: str(e) if isinstance(e, Refused)
                       else f"internal error: {e}", expected=(Refused,))
    try:
        await asyncio.gather(*(runner.launch(i) for i in ("crash", "refused", "fine")))
        assert await _jobs(db) == {"crash": ("failed", "internal error: disk full", True),
                                   "refused": ("failed", "the statement was aborted", True),
                                   "fine": ("done", None, False)}
        assert runner.tasks == {}
    finally:
        await db.dispose()


async def test_unfinished_jobs_resume_oldest_first_and_shutdown_leaves_them_to_resume(databases) -> None:
    db = await _database(databases, [("old", "running"), ("done-already", "done"), ("new", "queued"),
                                     ("gave-up", "failed")])
    started: list[str] = []
    first = asyncio.Event()

    async def work(job_id: str) -> None:
        started.append(job_id)
        first.set()
        await asyncio.Event().wait()  # still at work when the service stops

    runner = JobRunner(db, JOBS, work, name="test", one_at_a_time=True)
    lifetime = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(first.wait(), 60)
        await asyncio.sleep(0.05)  # time enough for a second job to start, were it allowed to
        assert started == ["old"]  # one at a time: "new" waits its turn
        assert set(runner.tasks) == {"old", "new"}
        assert runner.launch("old") is runner.tasks["old"]  # never started twice
        lifetime.cancel()
        await asyncio.gather(lifetime, return_exceptions=True)
        assert runner.tasks == {} and started == ["old"]
        # stopped, not failed: both resume at the next start
        assert {i: st for i, (st, _e, _f) in (await _jobs(db)).items()} == {
            "old": "running", "done-already": "done", "new": "queued", "gave-up": "failed"}
        assert await runner.unfinished() == ["old", "new"]
    finally:
        await db.dispose()


async def test_a_job_another_runner_finished_is_never_marked_failed(databases) -> None:
    """Two instances ran the same job: the one that fails after the other finished leaves it done."""
    db = await _database(databases, [("twice", "running")])

    async def work(job_id: str) -> None:
        async with db.transaction() as s:  # the other instance finishes first ...
            await s.execute(update(JOBS).where(JOBS.c.id == job_id).values(status="done"))
        raise RuntimeError("lost the race")  # ... then this one fails

    runner = JobRunner(db, JOBS, work, name="test")
    try:
        await runner.launch("twice")
        assert (await _jobs(db))["twice"] == ("done", None, False)
        assert await runner.fail("twice", "late") is False
    finally:
        await db.dispose()


async def test_each_job_carries_its_own_correlation_id(databases) -> None:
    """Issue 18 item 5: a job launched by a request keeps the request's correlation id; a job resumed at
    start-up gets a fresh one; no job takes another's."""
    from agency_common.logging import correlation_id_var

    db = await _database(databases, [("resumed-1", "queued"), ("resumed-2", "queued")])
    seen: dict[str, str | None] = {}

    async def work(job_id: str) -> None:
        seen[job_id] = correlation_id_var.get()

    runner = JobRunner(db, JOBS, work, name="test")
    outside = correlation_id_var.set(None)  # as a service's lifetime task starts: no request's id around
    try:
        await runner.resume_unfinished()
        await asyncio.gather(*runner.tasks.values())
        token = correlation_id_var.set("request-42")  # as the HTTP middleware sets it
        try:
            await runner.launch("asked")
        finally:
            correlation_id_var.reset(token)
        assert seen["asked"] == "request-42"
        assert seen["resumed-1"] and seen["resumed-2"] and seen["resumed-1"] != seen["resumed-2"]
        assert "request-42" not in (seen["resumed-1"], seen["resumed-2"])
        assert correlation_id_var.get() is None, "nothing leaks back into the caller"
    finally:
        correlation_id_var.reset(outside)
        await db.dispose()
