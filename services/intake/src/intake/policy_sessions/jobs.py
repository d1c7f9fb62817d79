"""Create Policies in the background for a large statement (DESIGN: bulk jobs run in the background
with visible progress, can be left and come back to, idempotent).

The domain rule stays: ONE transaction creates the policies, clients and the session, and marks the
job done. So the job row only says queued / running (committed before that transaction) and done /
failed (after); the live progress while the transaction runs is the worker's, in memory (on SQLite
nothing else could write it meanwhile: the transaction holds the single write lock). A job a
stopped process left queued or running had written nothing (its transaction never committed): the
runner (``agency_common.jobs``) runs it again at start-up; it is marked failed after ``MAX_ATTEMPTS``
interrupted attempts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from agency_common.logging import get_logger
from agency_common.timeutil import utcnow
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from intake.errors import Conflict, NotFound, UseCaseError
from intake.models import CreatePoliciesJob, PolicySession, Statement
from intake.policy_sessions.queries import selected_line_count, session_for_key
from intake.policy_sessions.schemas import CreatePoliciesRequest, session_json
from intake.policy_sessions.usecases import create_policies
from intake.web import POLICY_JOBS, app_object

log = get_logger(__name__)
JOBS = CreatePoliciesJob.__table__
MAX_ATTEMPTS = 3


def job_json(job: CreatePoliciesJob, live: dict[str, Any] | None = None) -> dict[str, Any]:
    done, total = job.done, job.total
    if live and job.status == "running":
        done, total = live["done"], live["total"] or job.total  # policies (lines sharing a number: one)
    return {
        "id": job.id, "statement_id": job.statement_id, "status": job.status, "total": total, "done": done,
        "phase": (live or {}).get("phase") if job.status == "running" else job.status,
        "session_id": job.session_id, "error": job.error, "attempts": job.attempts,
        "created_by": job.created_by, "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": f"/api/create-policies-jobs/{job.id}", "page": f"/create-policies-jobs/{job.id}",
    }


class PolicyJobs:
    """Starts, runs and resumes the background Create Policies jobs of this process."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.progress: dict[str, dict[str, Any]] = {}
        # resumes the jobs a stopped process left (they had written nothing: one transaction)
        self.runner = runtime.job_runner("create-policies", JOBS, self.run_job, describe=_reason,
                                         expected=(UseCaseError,))
        # awaited after each chunk with (job id, done, total): lets a test look at a job mid-run
        self.hook: Callable[[str, int, int], Awaitable[None]] | None = None

    @property
    def threshold(self) -> int:
        return self.runtime.settings.create_policies_background_threshold

    async def submit(self, statement_id: str, req: CreatePoliciesRequest, actor: str) -> dict[str, Any]:
        """Below the threshold, create now: ``{"session": ..., "created": bool}``. Above it (or when a
        job for this key exists), ``{"job": ...}``. Reads first: a repeated request never waits for
        the write lock a running job holds."""
        async with self.runtime.db.session() as s:
            existing = await session_for_key(s, req.idempotency_key)
            if existing is not None:
                if existing.statement_id != statement_id:
                    raise Conflict("this idempotency key was used for another statement")
                return {"session": existing, "created": False}
            job = await self._job_for_key(s, req.idempotency_key)
            if job is not None:
                if job.statement_id != statement_id:
                    raise Conflict("this idempotency key was used for another statement")
                return {"job": self.json(job)}
            st = await s.get(Statement, statement_id)
            if st is None:
                raise NotFound("no such statement")
            busy = (await s.execute(select(JOBS.c.id).where(
                JOBS.c.statement_id == statement_id, JOBS.c.status.in_(("queued", "running"))))).scalars().first()
            if busy is not None:
                raise Conflict(f"Create Policies is already running for this statement (job {busy}): "
                               "wait for it, then create the policies of any lines still unmatched")
            if st.status != "imported":
                raise Conflict(f"statement is {st.status}: policies are created from an imported statement")
            count = await selected_line_count(s, statement_id, req.line_nos)
        if count <= self.threshold:
            async with self.runtime.uow(actor=actor) as tx:
                session, created = await create_policies(
                    tx, statement_id, req, auto_publish=self.runtime.settings.auto_publish_when_matched,
                    chunk=self.runtime.settings.create_policies_chunk)
            return {"session": session, "created": created}
        if not count:
            raise UseCaseError("no unmatched lines to create policies from")
        job = CreatePoliciesJob(statement_id=statement_id, idempotency_key=req.idempotency_key,
                                request=req.model_dump_json(), total=count, created_by=actor)
        try:
            async with self.runtime.uow(actor=actor) as tx:
                tx.session.add(job)
        except IntegrityError:  # the same request, at the same moment
            async with self.runtime.db.session() as s:
                job = await self._job_for_key(s, req.idempotency_key)
            if job is None:
                raise
            return {"job": self.json(job)}
        self.launch(job.id)
        return {"job": self.json(job)}

    @staticmethod
    async def _job_for_key(session: Any, key: str) -> CreatePoliciesJob | None:
        return (await session.execute(
            select(CreatePoliciesJob).where(CreatePoliciesJob.idempotency_key == key))).scalar_one_or_none()

    def json(self, job: CreatePoliciesJob) -> dict[str, Any]:
        return job_json(job, self.progress.get(job.id))

    async def get(self, job_id: str) -> dict[str, Any]:
        async with self.runtime.db.session() as s:
            job = await s.get(CreatePoliciesJob, job_id)
            if job is None:
                raise NotFound("no such job")
            data = self.json(job)
            if job.session_id:
                session = await s.get(PolicySession, job.session_id)
                data["session"] = session_json(session) if session else None
        return data

    def launch(self, job_id: str) -> None:
        self.runner.launch(job_id)

    async def run_job(self, job_id: str) -> None:
        async with self.runtime.db.transaction() as s:
            job = await s.get(CreatePoliciesJob, job_id)
            if job is None or job.status in ("done", "failed"):
                return
            if job.status == "running" and job.attempts >= MAX_ATTEMPTS:  # interrupted each time
                raise UseCaseError(f"interrupted {job.attempts} times by a restart of the service; "
                                   "nothing was created: start Create Policies again")
            job.status, job.started_at, job.attempts = "running", utcnow(), job.attempts + 1
            actor, statement_id = job.created_by, job.statement_id
            req = CreatePoliciesRequest.model_validate_json(job.request)
        self.progress[job_id] = {"done": 0, "total": None, "phase": "reading the statement's lines"}

        async def progress(done: int, total: int) -> None:
            self.progress[job_id] = {"done": done, "total": total,
                                     "phase": "creating clients and policies" if done < total else "committing"}
            if self.hook is not None:
                await self.hook(job_id, done, total)

        try:
            async with self.runtime.uow(actor=actor) as tx:
                session, _created = await create_policies(
                    tx, statement_id, req, auto_publish=self.runtime.settings.auto_publish_when_matched,
                    chunk=self.runtime.settings.create_policies_chunk, progress=progress)
                # in the same transaction: the job is done exactly when its session exists
                await tx.session.execute(update(JOBS).where(JOBS.c.id == job_id).values(
                    status="done", session_id=session.id, total=session.count, done=session.count,
                    finished_at=utcnow()))
            log.info("create policies job done", job_id=job_id, session_id=session.id, count=session.count)
        finally:
            self.progress.pop(job_id, None)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, UseCaseError) else f"internal error: {type(exc).__name__}: {exc}"


# The app's Create Policies jobs, as a route dependency
Jobs = Annotated[PolicyJobs, app_object(POLICY_JOBS)]
