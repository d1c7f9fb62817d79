"""Background Create Invoices for large statements: a job row with progress, idempotent by the
request's idempotency key, run in chunks of statement-entry ids (each chunk its own transaction,
safe to re-run: a row already invoiced is never invoiced again), resumed after a restart."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from agency_common.logging import get_logger
from agency_common.timeutil import utcnow
from sqlalchemy import select

from invoicing import usecases as uc
from invoicing.models import Job

log = get_logger(__name__)


def job_json(job: Job) -> dict[str, Any]:
    data = job.model_dump(mode="json")
    data["result"] = json.loads(job.result) if job.result else None
    return data


async def start_create_invoices(runtime: Any, rec_id: str, actor: str, key: str | None) -> dict[str, Any]:
    async with runtime.uow(actor=actor) as tx:
        rec = await uc.lock(tx, rec_id)
        if (done := await uc.replay(tx, key, rec_id, "create-invoices")) is not None:
            return done
        uc.require_live(rec)
        _lo, _hi, count = await uc.pending_id_bounds(tx.session, rec_id)
        job = Job(id=str(uuid.uuid4()), reconciliation_id=rec_id, kind="create-invoices", total=count,
                  created_at=utcnow(), created_by=actor)
        tx.session.add(job)
        await tx.session.flush()
        response = {"background": True, "job": job_json(job)}
        await uc.remember(tx, key, rec_id, "create-invoices", response)
    launch(runtime, job.id)
    return response


def launch(runtime: Any, job_id: str) -> None:
    tasks: set[asyncio.Task[Any]] = runtime.__dict__.setdefault("invoicing_jobs", set())
    task = asyncio.create_task(run_job(runtime, job_id), name=f"job-{job_id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def run_job(runtime: Any, job_id: str) -> None:
    chunk = runtime.settings.background_chunk
    try:
        async with runtime.db.session() as s:
            job = await s.get(Job, job_id)
            if job is None or job.status in ("done", "failed"):
                return
            lo, hi, _count = await uc.pending_id_bounds(s, job.reconciliation_id)
            rec_id, actor = job.reconciliation_id, job.created_by
        async with runtime.uow(actor=actor) as tx:
            (await tx.session.get(Job, job_id)).status = "running"
        created = exceptions = 0
        start = lo
        while lo and start <= hi:
            end = start + chunk - 1
            async with runtime.uow(actor=actor) as tx:
                result = await uc.create_invoices(tx, rec_id, id_range=(start, end), remember_key=False)
                created += result["created"]
                exceptions += result["exceptions"]
                job = await tx.session.get(Job, job_id)
                job.done = created + exceptions
            start = end + 1
        async with runtime.uow(actor=actor) as tx:
            invalid_count, invalid = await uc._invalid_rows(tx, rec_id)
            rec = await uc.lock(tx, rec_id)
            t = await uc.refresh_status(tx, rec)
            job = await tx.session.get(Job, job_id)
            job.status, job.finished_at = "done", utcnow()
            job.result = json.dumps({"created": created, "exceptions": exceptions, "invalid": invalid_count,
                                     "invalid_rows": invalid, "reconciliation": uc.header(rec, t)}, default=str)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("background job failed", job_id=job_id)
        async with runtime.uow(actor="system") as tx:
            job = await tx.session.get(Job, job_id)
            if job is not None:
                job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:4000], utcnow()


async def resume_jobs(runtime: Any) -> None:
    """At start-up: jobs a stopped process left queued or running carry on (chunks are idempotent)."""
    await asyncio.sleep(0.5)
    async with runtime.db.session() as s:
        ids = list((await s.execute(select(Job.id).where(Job.status.in_(("queued", "running"))))).scalars())
    for job_id in ids:
        launch(runtime, job_id)
    try:
        await asyncio.Event().wait()
    finally:  # shutting down: stop the jobs (they resume at the next start)
        for task in list(runtime.__dict__.get("invoicing_jobs", ())):
            task.cancel()


async def get_job(runtime: Any, job_id: str) -> dict[str, Any]:
    async with runtime.db.session() as s:
        job = await s.get(Job, job_id)
    if job is None:
        raise uc.NotFound(f"job {job_id} not found")
    return job_json(job)
