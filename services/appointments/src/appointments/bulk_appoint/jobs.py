"""Background bulk appoint: above ``bulk_background_threshold`` requests the API answers 202 with a
job; the job's requests are stored, then processed in chunks of ``bulk_job_chunk`` requests.

Each chunk is one transaction that starts by inserting the claim ``job:<id>:<chunk>`` into
``bulk_appoint_calls`` (the idempotency-key table, primary key): a chunk redone after a crash, or
taken by a second process at the same time, finds the claim and creates nothing twice. Progress
(processed, rejected, transactions) and the per-request results are written in the same
transaction as the chunk's transactions, so what the job shows is what exists. Jobs a stopped
process left queued or running carry on at the next start; a job that raises is marked failed
with the error (chunks already done stay done)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from agency_common.logging import get_logger
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from appointments import models as m
from appointments.bulk_appoint.schemas import JobOut
from appointments.errors import NotFound
from appointments.transactions.schemas import BulkRequest
from appointments.transactions.transactions import appoint

log = get_logger(__name__)
CLAIM_RETRIES = 3
ITEM_PART = 500  # job requests stored per INSERT

# Tests and benchmarks may set ``runtime.appointment_job_hook = async f(job_id, chunk_no)``: awaited
# after each committed chunk (to observe progress mid-run without sleeping).
JobHook = Callable[[str, int], Awaitable[None]]


def chunk_claim(job_id: str, chunk_no: int) -> str:
    return f"job:{job_id}:{chunk_no}"


# the job's columns its JSON shows, as its response model names them: a column added for the runner
# (a lease) stays out of the answer
JOB_FIELDS = set(JobOut.model_fields) - {"batches", "url", "page"}


def job_view(job: m.AppointJob) -> dict[str, Any]:
    data = job.model_dump(mode="json", include=JOB_FIELDS)
    data["batches"] = [{"cocode": c, "batch_id": b} for c, b in sorted(job.batches.items())]
    data["url"] = f"/api/appointment-jobs/{job.id}"
    data["page"] = f"/appoint/jobs/{job.id}"
    return data


async def start_job(runtime: Any, actor: str, requests: Sequence[BulkRequest], *, source: str,
                    lines: Sequence[int] | None = None, row_errors: Sequence[dict[str, Any]] = (),
                    blank_rows: int = 0, key: str | None = None) -> dict[str, Any]:
    """Store the requests as a queued job (one transaction, with the Idempotency-Key's answer) and
    start it. A repeated key answers what the first call answered and starts nothing."""
    async with runtime.uow(actor=actor) as tx:
        s = tx.session
        if key and (done := await s.get(m.BulkAppointCall, key)) is not None:
            return done.response | {"replayed": True}
        job = m.AppointJob(source=source, total=len(requests), chunk_size=max(1, runtime.settings.bulk_job_chunk),
                           row_errors=list(row_errors), blank_rows=blank_rows, created_by=actor)
        s.add(job)
        await s.flush()
        for i in range(0, len(requests), ITEM_PART):  # built and written a part at a time: the loop gets turns
            await s.execute(m.AppointJobItem.__table__.insert(), [
                {"job_id": job.id, "seq": j, "line": lines[j] if lines else None,
                 "request": requests[j].model_dump(mode="json", by_alias=True), "result": None}
                for j in range(i, min(i + ITEM_PART, len(requests)))])
        response = {"background": True, "job": job_view(job)}
        if key:
            s.add(m.BulkAppointCall(idempotency_key=key, created_by=actor, response=response))
    launch(runtime, job.id)
    return response


RUNNER = "bulk-appoint"


def register(runtime: Any) -> None:
    """Run this process's jobs in the background. At start-up, jobs a stopped process left queued
    or running carry on (chunks are claimed, so nothing is done twice); at shutdown running jobs
    stop between awaits and resume later."""
    runtime.job_runner(RUNNER, m.AppointJob.__table__, partial(run_job, runtime))


def launch(runtime: Any, job_id: str) -> asyncio.Task[Any]:
    return runtime.jobs[RUNNER].launch(job_id)


async def run_chunk(runtime: Any, job_id: str, chunk_no: int) -> bool:
    """Do one chunk in one transaction; False when it was already done (or is being done by another
    process, which then commits it)."""
    for attempt in range(CLAIM_RETRIES):
        try:
            return await _run_chunk(runtime, job_id, chunk_no)
        except IntegrityError:
            async with runtime.db.session() as s:
                if await s.get(m.BulkAppointCall, chunk_claim(job_id, chunk_no)) is not None:
                    return False  # another runner claimed and committed it
            # an identical transaction sent by a concurrent call: evaluated again it is refused
            log.warning("bulk appoint chunk retried", job_id=job_id, chunk=chunk_no, attempt=attempt + 1)
    return await _run_chunk(runtime, job_id, chunk_no)


async def _run_chunk(runtime: Any, job_id: str, chunk_no: int) -> bool:
    async with runtime.db.session() as s:
        if await s.get(m.BulkAppointCall, chunk_claim(job_id, chunk_no)) is not None:
            return False
        actor = await s.scalar(select(m.AppointJob.created_by).where(m.AppointJob.id == job_id))
    async with runtime.uow(actor=actor) as tx:
        s = tx.session
        # the claim first: a second runner of this chunk waits on it, then fails on the key
        s.add(m.BulkAppointCall(idempotency_key=chunk_claim(job_id, chunk_no), created_by=actor,
                                response={"job_id": job_id, "chunk": chunk_no}))
        await s.flush()
        job = await s.get(m.AppointJob, job_id, with_for_update=True, populate_existing=True)
        size = job.chunk_size
        I = m.AppointJobItem
        items = (await s.execute(select(I.seq, I.line, I.request).where(
            I.job_id == job_id, I.seq >= chunk_no * size, I.seq < (chunk_no + 1) * size).order_by(I.seq))).all()
        if not items:
            return True
        batches = dict(job.batches)
        out = await appoint(tx, [BulkRequest.model_validate(r) for _seq, _line, r in items],
                                 source=job.source, batches=batches)
        results = [res | ({"line": line} if line is not None else {})
                   for (_seq, line, _r), res in zip(items, out["results"], strict=True)]
        await s.execute(update(I.__table__).where(I.__table__.c.job_id == bindparam("b_job"),
                                                  I.__table__.c.seq == bindparam("b_seq"))
                        .values(result=bindparam("b_result")),
                        [{"b_job": job_id, "b_seq": seq, "b_result": res}
                         for (seq, _line, _r), res in zip(items, results, strict=True)])
        job.processed += len(items)
        job.rejected += sum(1 for r in out["results"] if r["rejected"])
        job.transactions += out["transactions"]
        job.batches = batches
        return True


async def run_job(runtime: Any, job_id: str) -> None:
    async with runtime.db.session() as s:
        job = await s.get(m.AppointJob, job_id)
        if job is None or job.status in ("done", "failed"):
            return
        chunks, actor = math.ceil(job.total / job.chunk_size), job.created_by
    async with runtime.uow(actor=actor) as tx:
        job = await tx.session.get(m.AppointJob, job_id)
        if job.status == "queued":
            job.status, job.started_at = "running", utcnow()
    hook: JobHook | None = getattr(runtime, "appointment_job_hook", None)
    # Between chunks other requests get the loop; on SQLite also the write lock, which a waiting
    # writer (polling on its busy timeout) would otherwise keep losing to the next chunk.
    pause = getattr(runtime.settings, "bulk_job_pause_seconds", 0.1) if runtime.db.url.startswith("sqlite") else 0
    for k in range(chunks):
        await run_chunk(runtime, job_id, k)
        if hook is not None:
            await hook(job_id, k)
        await asyncio.sleep(pause)
    async with runtime.uow(actor=actor) as tx:
        job = await tx.session.get(m.AppointJob, job_id, with_for_update=True)
        if job.status in ("queued", "running"):
            job.status, job.finished_at = "done", utcnow()
    log.info("bulk appoint job done", job_id=job_id)


async def get_job(runtime: Any, job_id: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
    """The job and one page of its per-request results (in request order; a request whose chunk is
    not done yet shows ``pending``)."""
    I = m.AppointJobItem
    async with runtime.db.session() as s:
        job = await s.get(m.AppointJob, job_id)
        if job is None:
            raise NotFound("no such job")
        rows = (await s.execute(select(I.seq, I.line, I.request, I.result).where(I.job_id == job_id)
                                .order_by(I.seq).offset(offset).limit(limit))).all()
    items = [res if res is not None else {"npn": req.get("npn"), "pending": True, **({"line": line} if line else {})}
             for _seq, line, req, res in rows]
    nxt = offset + len(items)
    return job_view(job) | {"results": {"offset": offset, "limit": limit, "items": items,
                                        "next_offset": nxt if nxt < job.total else None}}


async def list_jobs(runtime: Any, limit: int = 50) -> list[dict[str, Any]]:
    async with runtime.db.session() as s:
        jobs = (await s.execute(select(m.AppointJob).order_by(m.AppointJob.created_at.desc())
                                .limit(limit))).scalars().all()
    return [job_view(j) for j in jobs]
