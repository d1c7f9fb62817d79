"""The background jobs of one kind in a service's process (DESIGN: bulk jobs run in the background,
can be left and come back to, and survive a restart).

A job is a row with ``id``, ``status`` (queued | running | done | failed), ``error``, ``created_at``
and ``finished_at``. The service's ``work(job_id)`` does the job (its own transactions, its own
progress columns) and marks it done; the runner does the rest, the same for every service:

- each launched job runs as a task of its own (or one after another, ``one_at_a_time``);
- at start-up the jobs a stopped process left queued or running are launched again, oldest first:
  ``work`` must be safe to run again (chunks claimed or skipped when done, or one transaction);
- at shutdown the running ones are cancelled and stay as they are, to resume at the next start;
- a job whose ``work`` raised is marked failed with a readable reason (``describe``), logged with
  its traceback unless the error is one the service ``expected`` (a rule the request broke).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import Table, select, update

from agency_common.db.engine import Database
from agency_common.logging import get_logger
from agency_common.timeutil import utcnow

log = get_logger(__name__)

UNFINISHED = ("queued", "running")
ERROR_LIMIT = 4000


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class JobRunner:
    def __init__(self, db: Database, table: Table, work: Callable[[str], Awaitable[None]], *, name: str,
                 one_at_a_time: bool = False, describe: Callable[[Exception], str] = describe_error,
                 expected: tuple[type[Exception], ...] = ()) -> None:
        self.db = db
        self.table = table
        self.work = work
        self.name = name
        self.describe = describe
        self.expected = expected
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._turn = asyncio.Lock() if one_at_a_time else None

    def launch(self, job_id: str) -> asyncio.Task[None]:
        """Run the job in the background (a job already running here is not started twice)."""
        if (task := self.tasks.get(job_id)) is not None:
            return task
        task = asyncio.create_task(self._run(job_id), name=f"{self.name}-{job_id}")
        self.tasks[job_id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(job_id, None))
        return task

    async def _run(self, job_id: str) -> None:
        try:
            if self._turn is None:
                await self.work(job_id)
            else:
                async with self._turn:
                    await self.work(job_id)
        except asyncio.CancelledError:
            raise  # shutting down: the job stays unfinished and resumes at the next start
        except Exception as exc:
            if isinstance(exc, self.expected):
                log.info("background job refused", job=self.name, job_id=job_id, error=str(exc))
            else:
                log.exception("background job failed", job=self.name, job_id=job_id)
            try:
                await self.fail(job_id, self.describe(exc))
            except Exception:
                log.exception("could not mark the background job failed", job=self.name, job_id=job_id)

    async def fail(self, job_id: str, reason: str) -> bool:
        """Mark an unfinished job failed; a job already done (by another runner) stays done."""
        t = self.table
        async with self.db.transaction() as s:
            marked = await s.execute(update(t).where(t.c.id == job_id, t.c.status.in_(UNFINISHED)).values(
                status="failed", error=reason[:ERROR_LIMIT], finished_at=utcnow()))
        if marked.rowcount != 1:
            log.warning("background job not marked failed: it had finished", job=self.name, job_id=job_id)
        return marked.rowcount == 1

    async def unfinished(self) -> list[str]:
        t = self.table
        async with self.db.session() as s:
            return list((await s.execute(
                select(t.c.id).where(t.c.status.in_(UNFINISHED)).order_by(t.c.created_at))).scalars())

    async def run(self) -> None:
        """The app's lifetime: resume what a stopped process left, then wait; at shutdown stop the
        running jobs (they resume at the next start)."""
        try:
            for job_id in await self.unfinished():
                log.info("background job resumed", job=self.name, job_id=job_id)
                self.launch(job_id)
            await asyncio.Event().wait()
        finally:
            tasks = list(self.tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
