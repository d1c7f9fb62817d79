"""Mass creation of sales records: a job per request (idempotent by its key), run in the
background in chunks, each chunk one set-based INSERT ... SELECT."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.intake import NewSalesRecord, SalesRecordsCreated
from agency_common.db.types import UTCDateTime
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import JSON, String, and_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from intake.chunking import chunks
from intake.errors import UseCaseError
from intake.individuals.domain.fields import (
    _CARRIED_KEYS,
    NOT_CARRIED_CUSTOM_TYPES,
)
from intake.individuals.queries import resolve_criteria, search_conditions
from intake.individuals.schemas import SalesRecordJobIn, SearchCriteria
from intake.models import Individual, Policy, SalesRecord, SalesRecordJob
from intake.web import SALES_RECORD_JOBS, app_object

IND = Individual.__table__
SR = SalesRecord.__table__
POL = Policy.__table__


JOB_CHUNK = 5000  # per transaction: big enough that commits don't count, small enough for progress


async def start_job(tx: Transaction, body: SalesRecordJobIn, types: list[str]) -> tuple[SalesRecordJob, bool]:
    existing = (await tx.session.execute(select(SalesRecordJob).where(
        SalesRecordJob.idempotency_key == body.idempotency_key))).scalar_one_or_none()
    if existing is not None:
        return existing, False
    if body.sales_record_type not in types:
        raise UseCaseError(f"sales record type must be one of {', '.join(types)}")
    c = await resolve_criteria(tx.session, body.criteria, body.saved_search_id)
    job = SalesRecordJob(idempotency_key=body.idempotency_key, saved_search_id=body.saved_search_id,
                         criteria=c.model_dump_json(exclude_none=True), sales_record_type=body.sales_record_type,
                         created_by=tx.actor)
    tx.session.add(job)
    await tx.session.flush()
    return job, True


@functools.lru_cache(maxsize=4)
def _create_chunk_sql(dialect: str) -> Any:
    """INSERT ... SELECT ... RETURNING: the sales records of a chunk of individuals, built in the
    database (carried fields as a JSON object, custom fields of the supported types only)."""
    skipped_types = ", ".join(f"'{t}'" for t in sorted(NOT_CARRIED_CUSTOM_TYPES))
    pairs = ", ".join(f"'{k}', i.{k}" for k in _CARRIED_KEYS)
    # the chunk's ids as ONE parameter (an array; a JSON list on SQLite): the statement text is the
    # same for every chunk, so it is prepared once, and the planner sees a join, not 5,000 literals
    if dialect == "postgresql":
        chosen, ids_param = "i.id = ANY(:ids)", bindparam("ids", type_=ARRAY(String()))
        new_id = "gen_random_uuid()::text"
        fields = f"json_build_object({pairs})::text"
        custom = (f"(SELECT coalesce(json_agg(je.e), '[]'::json)::text FROM json_array_elements(i.custom_fields::json) "
                  f"AS je(e) WHERE je.e->>'type' NOT IN ({skipped_types}))")
    else:
        chosen, ids_param = "i.id IN (SELECT value FROM json_each(:ids))", bindparam("ids", type_=JSON())
        new_id = "lower(hex(randomblob(16)))"
        fields = f"json_object({pairs})"
        custom = (f"(SELECT coalesce(json_group_array(json(je.value)), '[]') FROM json_each(i.custom_fields) AS je "
                  f"WHERE json_extract(je.value, '$.type') NOT IN ({skipped_types}))")
    sql = f"""
        INSERT INTO sales_records (id, individual_id, sales_record_type, assigned_user, fields, custom_fields, job_id,
                                   created_by, created_at)
        SELECT {new_id}, i.id, :record_type,
               CASE WHEN i.servicing_agent IS NOT NULL AND i.servicing_agent <> '' THEN i.servicing_agent_user END,
               {fields}, {custom}, :job_id, :actor, :now
        FROM individuals AS i
        WHERE {chosen} AND NOT EXISTS (SELECT 1 FROM sales_records AS s WHERE s.individual_id = i.id)
        RETURNING id, individual_id, assigned_user"""
    return text(sql).bindparams(ids_param, bindparam("now", type_=UTCDateTime()))


async def create_chunk(tx: Transaction, job_id: str, record_type: str, ids: list[str]) -> int:
    """Sales records for the individuals of ``ids`` that have none yet (one set-based statement),
    one ``SalesRecordsCreated`` event per ``BULK_CHUNK`` of them (issue 17)."""
    now = utcnow()
    dialect = tx.session.bind.dialect.name
    created = (await tx.session.execute(_create_chunk_sql(dialect), {
        "ids": ids, "record_type": record_type, "job_id": job_id, "actor": tx.actor, "now": now})).all()
    await tx.emit_many(SalesRecordsCreated(
        job_id=job_id, created_by=tx.actor, created_at=now,
        records=[NewSalesRecord(sales_record_id=rid, individual_id=iid, sales_record_type=record_type,
                                assigned_user=assigned) for rid, iid, assigned in part])
        for part in chunks(created, BULK_CHUNK))
    return len(created)


class SalesRecordJobs:
    """Runs sales-record jobs in the background, one at a time (``agency_common.jobs``: resumed after a
    restart, failures shown); progress on the job row."""

    def __init__(self, runtime: Any, chunk_size: int = JOB_CHUNK) -> None:
        self.runtime = runtime
        self.chunk_size = chunk_size
        # Awaited after each chunk's commit with (job id, rows done so far): lets a test hold a job
        # mid-run and observe its progress without sleeping.
        self.after_chunk: Callable[[str, int], Awaitable[None]] | None = None
        self.runner = runtime.job_runner("sales-records", SalesRecordJob.__table__, self.process, one_at_a_time=True)

    def launch(self, job_id: str) -> None:
        self.runner.launch(job_id)

    async def process(self, job_id: str) -> None:
        db = self.runtime.db
        jobs = SalesRecordJob.__table__
        async with db.transaction() as s:
            claimed = await s.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
                                      .values(status="running"))
            if claimed.rowcount != 1:
                return
            job = await s.get(SalesRecordJob, job_id)
            assert job is not None
            c = SearchCriteria.model_validate_json(job.criteria)
            conds = search_conditions(c)
            ids = list((await s.execute(select(IND.c.id).where(and_(*conds) if conds else True).order_by(IND.c.id))).scalars())
            await s.execute(update(jobs).where(jobs.c.id == job_id).values(total=len(ids), created=0, skipped=0))
        step = self.chunk_size
        for i in range(0, len(ids), step):
            chunk = ids[i:i + step]
            async with self.runtime.uow(actor=job.created_by) as tx:
                n = await create_chunk(tx, job_id, job.sales_record_type, chunk)
                await tx.session.execute(update(jobs).where(jobs.c.id == job_id).values(
                    created=jobs.c.created + n, skipped=jobs.c.skipped + (len(chunk) - n)))
            if self.after_chunk is not None:
                await self.after_chunk(job_id, i + len(chunk))
        async with db.transaction() as s:
            created = await s.scalar(select(func.count()).select_from(SR).where(SR.c.job_id == job_id)) or 0
            await s.execute(update(jobs).where(jobs.c.id == job_id).values(
                status="done", created=created, skipped=len(ids) - created, finished_at=utcnow()))


# The app's sales-record jobs, as a route dependency
SalesJobs = Annotated[SalesRecordJobs, app_object(SALES_RECORD_JOBS)]
