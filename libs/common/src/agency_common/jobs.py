"""The background jobs of one kind in a service's process (DESIGN: bulk jobs run in the background,
can be left and come back to, and survive a restart).

A job is a row with ``id``, ``status`` (queued | running | done | failed), ``error``, ``created_at``
and ``finished_at``. The service's ``work(job_id)`` does the job (its own transactions, its own
progress columns) and marks it done; the runner does the rest, the same for every service:

- each launched job runs as a task of its own (or one after another, ``one_at_a_time``);
- one owner at a time among the service's replicas: a job runs under a lease (``agency_common.leases``)
  that its runner renews; a replica that finds the lease held leaves the job alone, and takes it over
  only once its holder stopped renewing (killed, cut off); a runner that loses its lease stops the work
  at once and marks nothing;
- at start-up, and every half lease after, the jobs left queued or running (by a stopped process, or a
  replica gone) are launched again, oldest first: ``work`` must be safe to run again (chunks claimed or
  skipped when done, or one transaction);
- at shutdown the running ones are cancelled, their leases handed back, and they stay as they are, to
  resume at the next start or on another replica;
- a job whose ``work`` raised is marked failed with a readable reason (``describe``), logged with
  its traceback unless the error is one the service ``expected`` (a rule the request broke); a job
  already done stays done. A work that finds its lease lost itself (``holds`` in its write
  transactions) raises ``LeaseLost``: stopped, nothing marked.

A job table whose statuses are named otherwise gives its ``unfinished`` ones; one whose failure means
more than a status (the partial work removed, under the lease) gives its own ``mark_failed``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.db.engine import Database
from agency_common.leases import LeaseLost, Leases
from agency_common.logging import correlation_id_var, get_logger
from agency_common.timeutil import utcnow

log = get_logger(__name__)

UNFINISHED = ("queued", "running")
ERROR_LIMIT = 4000


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class JobRunner:
    def __init__(self, db: Database, table: Table, work: Callable[[str], Awaitable[None]], *, name: str,
                 one_at_a_time: bool = False, describe: Callable[[Exception], str] = describe_error,
                 expected: tuple[type[Exception], ...] = (), leases: Leases | None = None,
                 unfinished: tuple[str, ...] = UNFINISHED,
                 mark_failed: Callable[[str, str], Awaitable[bool]] | None = None) -> None:
        self.db = db
        self.table = table
        self.work = work
        self.name = name
        self.describe = describe
        self.expected = expected
        self.leases = leases
        self.unfinished_statuses = unfinished
        self.mark_failed = mark_failed or self.fail
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

    def lease_name(self, job_id: str) -> str:
        return f"{self.name}:{job_id}"

    async def holds(self, session: AsyncSession, job_id: str) -> bool:
        """In the work's write transaction: is this runner still the job's owner (see ``Leases.confirm``)?"""
        return self.leases is None or await self.leases.confirm(session, self.lease_name(job_id))

    async def _run(self, job_id: str) -> None:
        # Its own task, its own context: the request's correlation id when a request launched it, a
        # fresh one when resumed, carried into the job's log lines and events (never another job's).
        cid = correlation_id_var.get() or str(uuid.uuid4())
        correlation_id_var.set(cid)
        structlog.contextvars.bind_contextvars(correlation_id=cid)
        if self._turn is None:
            await self._owned(job_id)
        else:
            async with self._turn:
                await self._owned(job_id)

    async def _owned(self, job_id: str) -> None:
        if self.leases is None:
            await self._attempt(job_id)
            return
        lease = self.lease_name(job_id)
        if not await self.leases.take(lease):
            log.debug("background job held by another instance", job=self.name, job_id=job_id)
            return
        try:
            await self.leases.run_holding(lease, self._attempt(job_id))
        except LeaseLost:
            log.warning("background job taken over by another instance: stopped here", job=self.name,
                        job_id=job_id)

    async def _attempt(self, job_id: str) -> None:
        try:
            await self.work(job_id)
        except asyncio.CancelledError:
            raise  # shutting down (or the lease lost): the job stays unfinished and resumes
        except LeaseLost:
            raise  # the work found its lease taken over: another instance has the job now
        except Exception as exc:
            if isinstance(exc, self.expected):
                log.info("background job refused", job=self.name, job_id=job_id, error=str(exc))
            else:
                log.exception("background job failed", job=self.name, job_id=job_id)
            try:
                await self.mark_failed(job_id, self.describe(exc))
            except Exception:
                log.exception("could not mark the background job failed", job=self.name, job_id=job_id)

    async def fail(self, job_id: str, reason: str) -> bool:
        """Mark an unfinished job failed; a job already done (by another runner) stays done."""
        t = self.table
        async with self.db.transaction() as s:
            marked = await s.execute(update(t).where(t.c.id == job_id, t.c.status.in_(self.unfinished_statuses)).values(
                status="failed", error=reason[:ERROR_LIMIT], finished_at=utcnow()))
        if marked.rowcount != 1:
            log.warning("background job not marked failed: it had finished", job=self.name, job_id=job_id)
        return marked.rowcount == 1

    async def unfinished(self) -> list[str]:
        t = self.table
        async with self.db.session() as s:
            return list((await s.execute(
                select(t.c.id).where(t.c.status.in_(self.unfinished_statuses)).order_by(t.c.created_at))).scalars())

    async def resume_unfinished(self) -> int:
        """Launch the unfinished jobs not running here (those another replica holds are left to it)."""
        launched = 0
        for job_id in await self.unfinished():
            if job_id not in self.tasks:
                log.info("background job resumed", job=self.name, job_id=job_id)
                self.launch(job_id)
                launched += 1
        return launched

    async def run(self) -> None:
        """The app's lifetime: resume what a stopped process left, and with leases look again every
        half lease for jobs a gone replica left; at shutdown stop the running jobs (they resume at the
        next start)."""
        try:
            await self.resume_unfinished()
            if self.leases is None:  # one process: nobody else leaves jobs behind while this one runs
                await asyncio.Event().wait()
            look_again = self.leases.ttl.total_seconds() / 2 if self.leases else 0
            while True:
                await asyncio.sleep(look_again)
                try:
                    await self.resume_unfinished()
                except Exception as exc:  # noqa: BLE001 - the database away for a moment: look again later
                    log.warning("could not look for unfinished background jobs", job=self.name, error=str(exc))
        finally:
            tasks = list(self.tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
