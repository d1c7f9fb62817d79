"""Background jobs for large reconciliations: Create Invoices, Post, Pay All Selected and Create/Pay
All above ``background_threshold`` rows. A job row holds the progress; the request is idempotent by
its idempotency key; the work runs in chunks of ids (each chunk its own transaction, safe to re-run:
a row already invoiced, posted or paid is never handled again), and resumes after a restart.

The operator (or API client) gets 202 with the job at once and follows ``/api/jobs/{id}``; a
request never holds 100,000 invoices and their events in one transaction for the whole run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import func, select

from invoicing import errors, tables
from invoicing.invoices import usecases as invoice_uc
from invoicing.models import Job, Reconciliation
from invoicing.payments import usecases as pay_uc
from invoicing.reconciliations import locking
from invoicing.reconciliations import status as rec_status
from invoicing.stages import create_pay_all as create_pay_all_uc
from invoicing.statement_entry import duplicates

Bounds = Callable[[Any, str], Awaitable[tuple[int, int, int]]]
Chunk = Callable[[Transaction, Reconciliation, "Job", tuple[int, int]], Awaitable[dict[str, Any]]]
Finish = Callable[[Transaction, Reconciliation, "Job", dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Kind:
    operation: str  # the idempotency operation, the same as the request answered at once
    bounds: Bounds  # (lowest id, highest id, count) still to do
    chunk: Chunk  # one id range in one transaction; returns tallies with "done"
    finish: Finish  # the job's result


def job_json(job: Job) -> dict[str, Any]:
    data = job.model_dump(mode="json")
    data["result"] = json.loads(job.result) if job.result and job.status == "done" else None
    return data


# -- the kinds ------------------------------------------------------------------------------------
async def _entry_bounds(s: Any, rec_id: str) -> tuple[int, int, int]:
    return await invoice_uc.pending_id_bounds(s, rec_id)


async def _unposted_bounds(s: Any, rec_id: str) -> tuple[int, int, int]:
    return await invoice_uc.invoice_id_bounds(s, invoice_uc.unposted(rec_id))


async def _selected_bounds(s: Any, rec_id: str) -> tuple[int, int, int]:
    return await invoice_uc.invoice_id_bounds(s, invoice_uc.pay_selection(rec_id))


async def _create_chunk(tx: Transaction, rec: Reconciliation, job: Job, r: tuple[int, int]) -> dict[str, Any]:
    result = await invoice_uc.create_invoices(tx, rec.id, id_range=r, remember_key=False)
    return {"created": result["created"], "exceptions": result["exceptions"],
            "done": result["created"] + result["exceptions"]}


async def _create_finish(tx: Transaction, rec: Reconciliation, job: Job, tally: dict[str, Any]) -> dict[str, Any]:
    invalid_count, invalid = await invoice_uc.invalid_rows(tx, rec.id)
    return {"created": tally.get("created", 0), "exceptions": tally.get("exceptions", 0), "invalid": invalid_count,
            "invalid_rows": invalid, "duplicates_excluded": await duplicates.held_back_count(tx.session, rec.id)}


async def _post_chunk(tx: Transaction, rec: Reconciliation, job: Job, r: tuple[int, int]) -> dict[str, Any]:
    posted = await invoice_uc.post_range(tx, rec.id, None, id_range=r)
    return {**_posted_tally(posted), "done": posted.count}


def _posted_tally(posted: invoice_uc.Posted) -> dict[str, Any]:
    return {"posted": posted.count, "premium_total": posted.premium_total,
            "commission_total": posted.commission_total}


async def _audit_posted(tx: Transaction, rec: Reconciliation, job: Job, tally: dict[str, Any]) -> None:
    """The whole job's posting is one audit row, written with its last step."""
    await invoice_uc.audit_posted(tx, rec.id, invoice_uc.Posted(
        tally.get("posted", 0), Decimal(tally.get("premium_total", "0.00")),
        Decimal(tally.get("commission_total", "0.00"))), job_id=job.id)


async def _audit_paid(tx: Transaction, rec: Reconciliation, job: Job, tally: dict[str, Any]) -> None:
    await pay_uc.audit_paid(tx, rec.id, {"paid": tally.get("paid", 0),
                                         "received_total": tally.get("received_total", "0.00")}, job_id=job.id)


async def _post_finish(tx: Transaction, rec: Reconciliation, job: Job, tally: dict[str, Any]) -> dict[str, Any]:
    await _audit_posted(tx, rec, job, tally)
    await tables.analyze(tx, tables.INV)  # every status changed: Pay's chunks need to know (tables.analyze)
    return {"posted": tally.get("posted", 0)}


async def _pay_chunk(tx: Transaction, rec: Reconciliation, job: Job, r: tuple[int, int]) -> dict[str, Any]:
    paid = await pay_uc.pay_range(tx, rec, id_range=r)
    return {"paid": paid["paid"], "received_total": Decimal(paid["received_total"]), "done": paid["paid"]}


async def _pay_finish(tx: Transaction, rec: Reconciliation, job: Job, tally: dict[str, Any]) -> dict[str, Any]:
    await _audit_paid(tx, rec, job, tally)
    await tables.analyze(tx, tables.INV, tables.PAY)
    return {"paid": tally.get("paid", 0), "received_total": str(Decimal(tally.get("received_total", "0.00")))}


async def _create_pay_chunk(tx: Transaction, rec: Reconciliation, job: Job, r: tuple[int, int]) -> dict[str, Any]:
    """Create/Pay All on one range of entry ids; the job's id is the run id, so exactly the invoices
    this run made are posted and paid in full (the same as the request answered at once)."""
    exceptions = await invoice_uc.detect_exceptions(tx, rec.id, r)
    created = await invoice_uc.insert_invoices(tx, rec.id, r, exclude_exceptions=True, run_id=job.id)
    posted = await invoice_uc.post_range(tx, rec.id, None, run_id=job.id)
    paid = await pay_uc.pay_range(tx, rec, run_id=job.id)
    return {"created": created, **_posted_tally(posted), "paid": paid["paid"],
            "received_total": Decimal(paid["received_total"]), "done": created + len(exceptions)}


async def _create_pay_finish(tx: Transaction, rec: Reconciliation, job: Job, tally: dict[str, Any]) -> dict[str, Any]:
    await _audit_posted(tx, rec, job, tally)
    await _audit_paid(tx, rec, job, tally)
    await tables.analyze(tx, tables.INV, tables.PAY)
    invalid_count, invalid = await invoice_uc.invalid_rows(tx, rec.id)
    exceptions = await tx.session.scalar(select(func.count()).where(
        tables.EXC.c.reconciliation_id == rec.id, tables.EXC.c.status == "open")) or 0
    return {"outcome": "done", "created": tally.get("created", 0), "posted": tally.get("posted", 0),
            "paid": tally.get("paid", 0), "received_total": str(Decimal(tally.get("received_total", "0.00"))),
            "exception_count": exceptions, "invalid": invalid_count, "invalid_rows": invalid,
            "duplicates_excluded": await duplicates.held_back_count(tx.session, rec.id),
            "next": "post" if job.kind == "create-pay-post" else "direct_bill"}


KINDS: dict[str, Kind] = {
    "create-invoices": Kind("create-invoices", _entry_bounds, _create_chunk, _create_finish),
    "post": Kind("post", _unposted_bounds, _post_chunk, _post_finish),
    "pay": Kind("pay", _selected_bounds, _pay_chunk, _pay_finish),
    "create-pay-all": Kind("create-pay-all", _entry_bounds, _create_pay_chunk, _create_pay_finish),
    "create-pay-post": Kind("create-pay-all", _entry_bounds, _create_pay_chunk, _create_pay_finish),
}


# -- starting -------------------------------------------------------------------------------------
async def pending_count(runtime: Any, rec_id: str, kind: str) -> int:
    """How many rows the job would handle (for the threshold); NotFound for an unknown reconciliation."""
    async with runtime.db.session() as s:
        if await s.get(Reconciliation, rec_id) is None:
            raise errors.NotFound(f"reconciliation {rec_id} not found")
        return (await KINDS[kind].bounds(s, rec_id))[2]


async def start(runtime: Any, kind: str, rec_id: str, actor: str, key: str | None) -> dict[str, Any]:
    """Record the job (and the answer to the idempotency key) in one transaction, then run it."""
    spec = KINDS[kind]
    async with runtime.uow(actor=actor) as tx:
        rec = await locking.lock(tx, rec_id)
        if (done := await locking.replay(tx, key, rec_id, spec.operation)) is not None:
            return done
        locking.require_live(rec)
        job = await _new_job(tx, rec_id, kind, actor)
        response = {"background": True, "job": job_json(job)}
        await locking.remember(tx, key, rec_id, spec.operation, response)
    launch(runtime, job.id)
    return response


async def _new_job(tx: Transaction, rec_id: str, kind: str, actor: str) -> Job:
    _lo, _hi, count = await KINDS[kind].bounds(tx.session, rec_id)
    job = Job(id=str(uuid.uuid4()), reconciliation_id=rec_id, kind=kind, total=count, created_at=utcnow(),
              created_by=actor)
    tx.session.add(job)
    await tx.session.flush()
    return job


async def start_create_invoices(runtime: Any, rec_id: str, actor: str, key: str | None) -> dict[str, Any]:
    return await start(runtime, "create-invoices", rec_id, actor, key)


async def start_create_pay_all(runtime: Any, rec_id: str, actor: str, decision: str | None,
                               key: str | None) -> dict[str, Any]:
    """Create/Pay All of a large selection: exceptions first (the popup, answered at once, nothing
    created), then a job that creates, posts and pays in chunks."""
    async with runtime.uow(actor=actor) as tx:
        rec = await locking.lock(tx, rec_id)
        if (done := await locking.replay(tx, key, rec_id, "create-pay-all")) is not None:
            return done
        locking.require_live(rec)
        exceptions = await invoice_uc.detect_exceptions(tx, rec_id)
        if exceptions and decision is None:
            rows = await create_pay_all_uc.exception_rows(tx.session, rec_id, limit=500)
            return {"outcome": "exceptions", "exception_count": len(exceptions), "exceptions": rows,
                    "options": ["create_pay", "create_pay_post", "cancel", "abort"],
                    "reconciliation": rec_status.header(rec, await rec_status.totals(tx.session, rec))}
        job = await _new_job(tx, rec_id, "create-pay-post" if decision == "create_pay_post" else "create-pay-all",
                             actor)
        response = {"outcome": "background", "background": True, "job": job_json(job)}
        await locking.remember(tx, key, rec_id, "create-pay-all", response)
    launch(runtime, job.id)
    return response


# -- running --------------------------------------------------------------------------------------
RUNNER = "reconciliation-jobs"


def register(runtime: Any) -> None:
    """Run this process's jobs in the background and resume interrupted ones at start-up (chunks
    are idempotent); at shutdown they stop and resume at the next start."""
    runtime.job_runner(RUNNER, Job.__table__, partial(run_job, runtime))


def launch(runtime: Any, job_id: str) -> None:
    runtime.jobs[RUNNER].launch(job_id)


def _add(tally: dict[str, Any], part: dict[str, Any]) -> None:
    for name, value in part.items():
        if name.endswith("_total"):  # money: kept as text in the job row's JSON
            tally[name] = str(Decimal(tally.get(name, "0.00")) + value)
        else:
            tally[name] = tally.get(name, 0) + value


async def run_job(runtime: Any, job_id: str) -> None:
    chunk = runtime.settings.background_chunk
    async with runtime.db.session() as s:
        job = await s.get(Job, job_id)
        if job is None or job.status in ("done", "failed"):
            return
        spec = KINDS[job.kind]
        lo, hi, _count = await spec.bounds(s, job.reconciliation_id)
        rec_id, actor = job.reconciliation_id, job.created_by
    async with runtime.uow(actor=actor) as tx:
        (await tx.session.get(Job, job_id)).status = "running"
    start_id = lo
    while lo and start_id <= hi:
        end = start_id + chunk - 1
        async with runtime.uow(actor=actor) as tx:
            rec = await locking.lock(tx, rec_id)
            locking.require_live(rec)  # aborted meanwhile: the job stops (failed, with the reason)
            job = await tx.session.get(Job, job_id)
            part = await spec.chunk(tx, rec, job, (start_id, end))
            # the running tallies live on the job row, so a resumed job reports the whole run
            tally = json.loads(job.result) if job.result else {}
            _add(tally, part)
            job.result, job.done = json.dumps(tally), tally.get("done", 0)
        start_id = end + 1
    async with runtime.uow(actor=actor) as tx:
        rec = await locking.lock(tx, rec_id)
        job = await tx.session.get(Job, job_id)
        result = await spec.finish(tx, rec, job, json.loads(job.result) if job.result else {})
        t = await rec_status.refresh_status(tx, rec)
        job.status, job.finished_at = "done", utcnow()
        job.result = json.dumps({**result, "reconciliation": rec_status.header(rec, t)}, default=str)


async def get_job(runtime: Any, job_id: str) -> dict[str, Any]:
    async with runtime.db.session() as s:
        job = await s.get(Job, job_id)
    if job is None:
        raise errors.NotFound(f"job {job_id} not found")
    return job_json(job)
