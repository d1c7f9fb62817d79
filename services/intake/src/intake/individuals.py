"""Individuals, Individual Advanced Search, saved searches, mass creation of sales records and
Convert to Individual (seed 001)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from agency_common.contracts.intake import SalesRecordCreated
from agency_common.db.engine import one_of
from agency_common.logging import get_logger
from agency_common.outbox import Transaction
from agency_common.pii import PiiCipher, mask
from agency_common.tabular import csv_bytes_paged
from agency_common.timeutil import utcnow
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import and_, exists, func, insert, or_, select, update

from intake.carriers.rules import carrier_key
from intake.domain.individuals import (
    CARRIED_FIELDS,
    PII_FIELDS,
    STANDARD_FIELDS,
    custom_type,
    custom_value,
    merge_back,
    storage_key,
)
from intake.domain.insured import PERSON, Insured
from intake.models import Individual, IndividualAudit, Policy, SalesRecord, SalesRecordJob, SavedSearch
from intake.usecases import Conflict, NotFound, UseCaseError

log = get_logger(__name__)
IND = Individual.__table__
SR = SalesRecord.__table__
POL = Policy.__table__
JOB_CHUNK = 5000  # per transaction: big enough that commits don't count, small enough for progress


class CustomField(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    type: Literal["text", "date", "dropdown", "number", "currency", "percent", "checkbox", "checkbox_list"]
    value: Any = None

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> str:
        return custom_type(v)

    @model_validator(mode="after")
    def _value(self) -> CustomField:
        self.value = custom_value(self.type, self.value)
        return self


class IndividualIn(BaseModel):
    first_name: str | None = Field(default=None, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    nickname: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)
    servicing_agent: str | None = Field(default=None, max_length=100)
    servicing_agent_user: str | None = Field(default=None, max_length=100)
    record_status: str | None = Field(default=None, max_length=50)
    primary_email: str | None = Field(default=None, max_length=200)
    secondary_email: str | None = Field(default=None, max_length=200)
    cell_phone: str | None = Field(default=None, max_length=50)
    home_phone: str | None = Field(default=None, max_length=50)
    address_type: str | None = Field(default=None, max_length=50)
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    county: str | None = Field(default=None, max_length=100)
    zip_code: str | None = Field(default=None, max_length=20)
    state: str | None = Field(default=None, max_length=20)
    gender: str | None = Field(default=None, max_length=20)
    dob: date | None = None
    lead_source: str | None = Field(default=None, max_length=100)
    medicare_id: str | None = Field(default=None, max_length=50)
    medicare_part_a: date | None = None
    medicare_part_b: date | None = None
    ssn: str | None = Field(default=None, max_length=20)
    drivers_license: str | None = Field(default=None, max_length=50)
    smoker_status: str | None = Field(default=None, max_length=20)
    custom_fields: list[CustomField] = []


def _cipher(runtime: Any) -> PiiCipher:
    if runtime.pii is None:
        raise UseCaseError("PII encryption keys are not configured")
    return runtime.pii


def encrypt_field(cipher: PiiCipher, field: str, value: Any) -> Any:
    if field not in PII_FIELDS:
        return value
    if value is None or value == "":
        return None
    return cipher.encrypt(value.isoformat() if isinstance(value, date) else str(value))


def storage_values(data: IndividualIn, cipher: PiiCipher, only_set: bool = False) -> dict[str, Any]:
    raw = data.model_dump(exclude={"custom_fields"}, exclude_unset=only_set)
    return {storage_key(f): encrypt_field(cipher, f, v) for f, v in raw.items()}


def clear_values(row: Any, cipher: PiiCipher) -> dict[str, Any]:
    """Field name → clear value (PII decrypted; DOB as ISO text)."""
    get = (lambda k: row[k]) if isinstance(row, dict) else (lambda k: getattr(row, k))
    out: dict[str, Any] = {}
    for f in STANDARD_FIELDS:
        v = get(storage_key(f))
        out[f] = cipher.decrypt(v) if f in PII_FIELDS and v else v
    return out


def individual_json(ind: Individual, cipher: PiiCipher, reveal: bool) -> dict[str, Any]:
    values = clear_values(ind, cipher)
    for f in PII_FIELDS:
        if not reveal:
            values[f] = mask(values[f])
    for k in ("medicare_part_a", "medicare_part_b"):
        values[k] = values[k].isoformat() if values[k] else None
    return {"id": ind.id, "external_id": ind.external_id, "version": ind.version, "client_id": ind.client_id,
            **values, "custom_fields": json.loads(ind.custom_fields), "created_at": ind.created_at.isoformat(),
            "updated_at": ind.updated_at.isoformat()}


async def create_individual(tx: Transaction, data: IndividualIn, cipher: PiiCipher,
                            external_id: str | None = None, version: int = 1) -> Individual:
    ind = Individual(**storage_values(data, cipher), external_id=external_id, version=version,
                     custom_fields=json.dumps([c.model_dump(mode="json") for c in data.custom_fields]),
                     created_by=tx.actor)
    tx.session.add(ind)
    await tx.session.flush()
    return ind


async def update_individual(tx: Transaction, individual_id: str, data: IndividualIn, cipher: PiiCipher) -> Individual:
    ind = await tx.session.get(Individual, individual_id)
    if ind is None:
        raise NotFound("no such individual")
    for k, v in storage_values(data, cipher, only_set=True).items():
        setattr(ind, k, v)
    if "custom_fields" in data.model_fields_set:
        ind.custom_fields = json.dumps([c.model_dump(mode="json") for c in data.custom_fields])
    ind.version += 1
    ind.updated_at = utcnow()
    # who changed which fields; the names only, never the (possibly PII) values
    tx.session.add(IndividualAudit(individual_id=ind.id, action="update", actor=tx.actor,
                                   details=json.dumps({"fields": sorted(data.model_fields_set)})))
    await tx.session.flush()
    return ind


async def upsert_from_crm(tx: Transaction, external_id: str, version: int, fields: dict[str, Any],
                          custom: dict[str, Any], cipher: PiiCipher) -> Individual | None:
    """An individual from the CRM; an older version never overwrites a newer one."""
    known = set(IndividualIn.model_fields) - {"custom_fields"}
    # {name: value} (text), {name: {type, value}} or [{name, type, value}]
    customs = [{"name": k, **c} if isinstance(c, dict) and "type" in c else {"name": k, "type": "text", "value": c}
               for k, c in custom.items()] if isinstance(custom, dict) else list(custom)
    data = IndividualIn.model_validate({**{k: v for k, v in fields.items() if k in known}, "custom_fields": customs})
    ind = (await tx.session.execute(select(Individual).where(Individual.external_id == external_id))).scalar_one_or_none()
    if ind is None:
        return await create_individual(tx, data, cipher, external_id=external_id, version=version)
    if version <= ind.version:
        return None
    for k, v in storage_values(data, cipher).items():
        setattr(ind, k, v)
    ind.custom_fields = json.dumps([c.model_dump(mode="json") for c in data.custom_fields])
    ind.version, ind.updated_at = version, utcnow()
    await tx.session.flush()
    return ind


# -- search ----------------------------------------------------------------------------------------
class SearchCriteria(BaseModel):
    name: str | None = None  # contains, in first, last or nickname
    first_name: str | None = None
    last_name: str | None = None
    record_status: str | None = None
    state: str | None = None
    city: str | None = None
    zip_code: str | None = None
    servicing_agent: str | None = None
    lead_source: str | None = None
    gender: str | None = None
    smoker_status: str | None = None
    has_sales_record: bool | None = None
    # policy filters: one policy of the individual meets all of them
    policy_line_of_business: str | None = None  # coverage type
    policy_status: str | None = None
    policy_carrier: str | None = None
    policy_effective_from: date | None = None
    policy_effective_to: date | None = None
    policy_renewal_from: date | None = None  # renewal date = the policy's expiration date
    policy_renewal_to: date | None = None


SORTS = {"last_name": IND.c.last_name, "first_name": IND.c.first_name, "state": IND.c.state,
         "created_at": IND.c.created_at, "record_status": IND.c.record_status}


def search_conditions(c: SearchCriteria) -> list[Any]:
    conds: list[Any] = []
    if c.name:
        like = f"%{c.name.lower()}%"
        conds.append(or_(func.lower(IND.c.first_name).like(like), func.lower(IND.c.last_name).like(like),
                         func.lower(IND.c.nickname).like(like)))
    for f in ("first_name", "last_name"):
        if getattr(c, f):
            conds.append(func.lower(IND.c[f]) == getattr(c, f).lower())
    for f in ("record_status", "state", "city", "zip_code", "servicing_agent", "lead_source", "gender",
              "smoker_status"):
        if getattr(c, f):
            conds.append(IND.c[f] == getattr(c, f))
    if c.has_sales_record is not None:
        linked = exists().where(SR.c.individual_id == IND.c.id)
        conds.append(linked if c.has_sales_record else ~linked)
    pconds = []
    if c.policy_line_of_business:
        pconds.append(POL.c.line_of_business == c.policy_line_of_business)
    if c.policy_status:
        pconds.append(POL.c.status == c.policy_status)
    if c.policy_carrier:
        pconds.append(func.lower(POL.c.carrier) == carrier_key(c.policy_carrier))  # names are kept tidy
    if c.policy_effective_from:
        pconds.append(POL.c.effective_date >= c.policy_effective_from)
    if c.policy_effective_to:
        pconds.append(POL.c.effective_date <= c.policy_effective_to)
    if c.policy_renewal_from:
        pconds.append(POL.c.expiration_date >= c.policy_renewal_from)
    if c.policy_renewal_to:
        pconds.append(POL.c.expiration_date <= c.policy_renewal_to)
    if pconds:
        # set-based: the clients of the policies meeting every policy filter (an index range scan),
        # then the individuals of those clients (unique index on individuals.client_id)
        conds.append(IND.c.client_id.in_(select(POL.c.client_id).where(POL.c.client_id.is_not(None), *pconds)))
    return conds


async def search(session: Any, c: SearchCriteria, *, sort: str = "last_name", limit: int = 50,
                 offset: int = 0) -> tuple[int, list[Individual]]:
    desc = sort.startswith("-")
    col = SORTS.get(sort.lstrip("-"))
    if col is None:
        raise UseCaseError(f"sort must be one of {', '.join(SORTS)} (prefix - for descending)")
    conds = search_conditions(c)
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(IND).where(where))
    return total or 0, await _page(session, where, col.desc() if desc else col.asc(), limit, offset)


async def search_pages(session: Any, c: SearchCriteria, page_size: int = 2000) -> AsyncIterator[list[Individual]]:
    """Every individual the search finds, a page at a time in the search's order (exports)."""
    conds = search_conditions(c)
    where = and_(*conds) if conds else True
    offset = 0
    while rows := await _page(session, where, SORTS["last_name"].asc(), page_size, offset):
        yield rows
        offset += page_size


async def _page(session: Any, where: Any, order: Any, limit: int, offset: int) -> list[Individual]:
    # the page's ids first (index-only where the indexes cover the filters), then their rows
    ids = list((await session.execute(select(IND.c.id).where(where).order_by(
        order, IND.c.id).limit(limit).offset(offset))).scalars())
    found: dict[str, Individual] = {}
    for i in range(0, len(ids), 500):
        found.update({r.id: r for r in (await session.execute(
            select(Individual).where(Individual.id.in_(ids[i:i + 500])))).scalars()})
    return [found[i] for i in ids if i in found]


EXPORT_FIELDS = ("first_name", "middle_name", "last_name", "record_status", "servicing_agent", "primary_email",
                 "cell_phone", "address_line1", "city", "state", "zip_code", "dob", "ssn", "medicare_id",
                 "drivers_license")


def export_rows(rows: list[Individual], cipher: PiiCipher, reveal: bool) -> Iterator[list[Any]]:
    """Search results as CSV rows (id, then EXPORT_FIELDS), PII masked unless the user may reveal it."""
    for ind in rows:
        v = clear_values(ind, cipher)
        yield [ind.id, *[(v[f] if reveal or f not in PII_FIELDS else mask(v[f])) or "" for f in EXPORT_FIELDS]]


def search_export_csv(db: Any, c: SearchCriteria, cipher: PiiCipher, reveal: bool) -> AsyncIterator[bytes]:
    """The whole result as CSV, read page by page while it streams (one read session for the export)."""
    async def pages() -> AsyncIterator[list[list[Any]]]:
        async with db.session() as session:
            async for rows in search_pages(session, c):
                yield list(export_rows(rows, cipher, reveal))
    return csv_bytes_paged(["id", *EXPORT_FIELDS], pages())


async def save_search(tx: Transaction, name: str, criteria: SearchCriteria) -> SavedSearch:
    s = SavedSearch(name=name.strip() or "search", criteria=criteria.model_dump_json(exclude_none=True), owner=tx.actor)
    tx.session.add(s)
    await tx.session.flush()
    return s


def saved_search_json(s: SavedSearch) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "criteria": json.loads(s.criteria), "owner": s.owner,
            "created_at": s.created_at.isoformat()}


# -- mass creation of sales records ----------------------------------------------------------------
class SalesRecordJobIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    sales_record_type: str = Field(min_length=1, max_length=100)
    criteria: SearchCriteria | None = None
    saved_search_id: str | None = None


async def resolve_criteria(session: Any, criteria: SearchCriteria | None, saved_search_id: str | None) -> SearchCriteria:
    if saved_search_id:
        saved = await session.get(SavedSearch, saved_search_id)
        if saved is None:
            raise NotFound("no such saved search")
        return SearchCriteria.model_validate_json(saved.criteria)
    if criteria is None:
        raise UseCaseError("give search criteria or a saved search")
    return criteria


async def preview_counts(session: Any, c: SearchCriteria) -> dict[str, int]:
    conds = search_conditions(c)
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(IND).where(where)) or 0
    linked = await session.scalar(select(func.count()).select_from(IND).where(
        where, exists().where(SR.c.individual_id == IND.c.id))) or 0
    return {"total": total, "will_create": total - linked, "will_skip": linked}


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


def job_json(j: SalesRecordJob) -> dict[str, Any]:
    return {"id": j.id, "status": j.status, "total": j.total, "created": j.created, "skipped": j.skipped,
            "failed": j.failed, "error": j.error, "sales_record_type": j.sales_record_type,
            "criteria": json.loads(j.criteria), "saved_search_id": j.saved_search_id, "created_by": j.created_by,
            "created_at": j.created_at.isoformat(), "finished_at": j.finished_at.isoformat() if j.finished_at else None}


@functools.lru_cache(maxsize=4)
def _create_chunk_sql(dialect: str) -> Any:
    """INSERT ... SELECT ... RETURNING: the sales records of a chunk of individuals, built in the
    database (carried fields as a JSON object, custom fields of the supported types only)."""
    from agency_common.db.types import UTCDateTime
    from sqlalchemy import JSON, String, bindparam, text
    from sqlalchemy.dialects.postgresql import ARRAY

    from intake.domain.individuals import _CARRIED_KEYS, NOT_CARRIED_CUSTOM_TYPES

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
    one ``SalesRecordCreated`` event each."""
    now = utcnow()
    dialect = tx.session.bind.dialect.name
    created = (await tx.session.execute(_create_chunk_sql(dialect), {
        "ids": ids, "record_type": record_type, "job_id": job_id, "actor": tx.actor, "now": now})).all()
    if created:
        await tx.emit_many(SalesRecordCreated(
            sales_record_id=rid, individual_id=iid, sales_record_type=record_type, assigned_user=assigned,
            job_id=job_id, created_by=tx.actor, created_at=now) for rid, iid, assigned in created)
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


# -- sales records and Convert to Individual -----------------------------------------------------------
def sales_record_json(r: SalesRecord, cipher: PiiCipher, reveal: bool) -> dict[str, Any]:
    stored = json.loads(r.fields)
    fields = {}
    for f in CARRIED_FIELDS:
        v = stored.get(storage_key(f))
        if f in PII_FIELDS and v:
            v = cipher.decrypt(v)
            v = v if reveal else mask(v)
        fields[f] = v
    return {"id": r.id, "individual_id": r.individual_id, "sales_record_type": r.sales_record_type,
            "assigned_user": r.assigned_user, "fields": fields, "custom_fields": json.loads(r.custom_fields),
            "job_id": r.job_id, "created_by": r.created_by, "created_at": r.created_at.isoformat(),
            "converted_by": r.converted_by, "converted_at": r.converted_at.isoformat() if r.converted_at else None,
            "status": "converted" if r.converted_at else "open"}


async def list_sales_records(session: Any, *, sales_record_type: str | None = None, job_id: str | None = None,
                             individual_id: str | None = None, limit: int = 50, offset: int = 0
                             ) -> tuple[int, list[SalesRecord]]:
    conds = [c for c in (SR.c.sales_record_type == sales_record_type if sales_record_type else None,
                         SR.c.job_id == job_id if job_id else None,
                         SR.c.individual_id == individual_id if individual_id else None) if c is not None]
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(SR).where(where)) or 0
    rows = (await session.execute(select(SalesRecord).where(where).order_by(SalesRecord.created_at, SalesRecord.id)
                                  .limit(limit).offset(offset))).scalars().all()
    return total, list(rows)


async def audits_of(session: Any, individual_id: str) -> list[dict[str, Any]]:
    rows = (await session.execute(select(IndividualAudit).where(IndividualAudit.individual_id == individual_id)
                                  .order_by(IndividualAudit.at, IndividualAudit.id))).scalars().all()
    return [{"action": a.action, "actor": a.actor, "at": a.at.isoformat(), "details": json.loads(a.details)} for a in rows]


async def update_sales_record(tx: Transaction, record_id: str, changes: dict[str, Any], cipher: PiiCipher) -> SalesRecord:
    rec = await tx.session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("no such sales record")
    unknown = [k for k in changes if k not in CARRIED_FIELDS]
    if unknown:
        raise UseCaseError(f"not a sales record field: {', '.join(unknown)}")
    stored = json.loads(rec.fields)
    for f, v in changes.items():
        stored[storage_key(f)] = encrypt_field(cipher, f, v)
    rec.fields = json.dumps(stored)
    # a sales record belongs to its individual: its edits join the individual's trail (field names only)
    tx.session.add(IndividualAudit(individual_id=rec.individual_id, action="sales_record_update", actor=tx.actor,
                                   details=json.dumps({"sales_record_id": rec.id, "fields": sorted(changes)})))
    await tx.session.flush()
    return rec


async def convert_to_individual(tx: Transaction, record_id: str, cipher: PiiCipher) -> tuple[Individual, list[str], list[str]]:
    rec = await tx.session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("no such sales record")
    ind = await tx.session.get(Individual, rec.individual_id)
    if ind is None:
        raise Conflict("the linked individual does not exist")
    stored = json.loads(rec.fields)
    theirs = {f: (cipher.decrypt(stored.get(storage_key(f))) if f in PII_FIELDS and stored.get(storage_key(f))
                  else stored.get(storage_key(f))) for f in CARRIED_FIELDS}
    mine = clear_values(ind, cipher)
    for k in ("medicare_part_a", "medicare_part_b"):
        mine[k] = mine[k].isoformat() if mine[k] else None
    own_custom = json.loads(ind.custom_fields)
    changes, custom, conflicts = merge_back(mine, own_custom, theirs, json.loads(rec.custom_fields))
    custom_added = [c.get("name") for c in custom[len(own_custom):]]
    for f, v in changes.items():
        if f in ("medicare_part_a", "medicare_part_b"):
            v = date.fromisoformat(v)
        setattr(ind, storage_key(f), encrypt_field(cipher, f, v))
    ind.custom_fields = json.dumps(custom)
    ind.version += 1
    ind.updated_at = utcnow()
    rec.converted_by, rec.converted_at = tx.actor, utcnow()
    tx.session.add(IndividualAudit(individual_id=ind.id, action="convert_to_individual", actor=tx.actor,
                                   details=json.dumps({"sales_record_id": rec.id, "filled": sorted(changes),
                                                       "custom_fields_added": custom_added,
                                                       "conflicts_kept_individual": conflicts})))
    await tx.session.flush()
    return ind, sorted(changes), conflicts


async def individuals_for_clients(tx: Transaction, clients: list[tuple[str, Insured]]) -> None:
    """Policy clients that are people become individuals (first and last name as the name was
    classified); an organisation is no individual."""
    clients = [(cid, insured) for cid, insured in clients if insured.kind == PERSON]
    if not clients:
        return
    ids = [cid for cid, _ in clients]
    have = set()
    for i in range(0, len(ids), 500):
        have |= set((await tx.session.execute(select(IND.c.client_id).where(IND.c.client_id.in_(ids[i:i + 500])))).scalars())
    now = utcnow()
    rows = []
    for cid, insured in clients:
        if cid in have:
            continue
        rows.append({"id": str(uuid.uuid4()), "version": 1, "client_id": cid, "first_name": insured.first_name,
                     "last_name": insured.last_name, "title": insured.title, "record_status": "active", "custom_fields": "[]", "created_by": tx.actor, "created_at": now,
                     "updated_at": now})
    for i in range(0, len(rows), 1000):
        await tx.session.execute(insert(IND), rows[i:i + 1000])


# -- CSV import of individuals ----------------------------------------------------------------------
_HEADER_ALIASES = {
    "dob": ("date of birth", "birth date", "dob"), "ssn": ("social security number", "ssn", "social security"),
    "medicare_id": ("medicare beneficiary id", "medicare id", "mbi"),
    "medicare_part_a": ("medicare effective date part a", "part a effective date", "medicare part a"),
    "medicare_part_b": ("medicare effective date part b", "part b effective date", "medicare part b"),
    "drivers_license": ("driver's license number", "drivers license number", "driver license", "drivers license"),
    "address_line1": ("address line 1", "address", "address1"), "zip_code": ("zip code", "zip", "postal code"),
    "record_status": ("record status", "individual status", "status"), "primary_email": ("primary email", "email"),
    # keys: a row naming an existing individual updates it
    "id": ("individual id", "id"), "external_id": ("external id", "crm id"),
}
KEY_COLUMNS = ("id", "external_id")
DATE_FIELDS = ("dob", "medicare_part_a", "medicare_part_b")


def template_columns() -> list[str]:
    """The CSV template's header: the keys, every standard field, one custom column per type."""
    from intake.domain.individuals import CUSTOM_FIELD_TYPES, FIELD_LABELS

    examples = {"text": "Notes", "date": "Follow-up date", "dropdown": "Plan", "number": "Household size",
                "currency": "Income", "percent": "Discount", "checkbox": "Newsletter", "checkbox_list": "Interests"}
    return ["Individual ID", "External ID", *(FIELD_LABELS[f] for f in STANDARD_FIELDS),
            *(f"custom:{t}:{examples[t]}" for t in CUSTOM_FIELD_TYPES)]


def individual_columns(header: list[str]) -> tuple[dict[str, int], dict[int, tuple[str, str]]]:
    """Standard field (and key) → column, and custom columns (``custom:<type>:<name>``) → (type, name)."""
    from agency_common.tabular import TabularError

    from intake.domain.mapping import header_key

    keys = [header_key(h) for h in header]
    found: dict[str, int] = {}
    for f in (*KEY_COLUMNS, *STANDARD_FIELDS):
        for alias in (f.replace("_", " "), *_HEADER_ALIASES.get(f, ())):
            k = header_key(alias)
            if k in keys and f not in found:
                found[f] = keys.index(k)
    custom: dict[int, tuple[str, str]] = {}
    for i, h in enumerate(header):
        parts = h.strip().split(":", 2)
        if len(parts) == 3 and parts[0].strip().lower() == "custom":
            try:
                custom[i] = (custom_type(parts[1]), parts[2].strip())
            except ValueError as exc:
                raise TabularError(f"column {h.strip()!r}: {exc}") from None
    return found, custom


def _row_keys(cells: list[str], columns: dict[str, int]) -> dict[str, str]:
    """The row's Individual ID and External ID, those given."""
    given = {k: cells[columns[k]].strip() for k in KEY_COLUMNS if k in columns and columns[k] < len(cells)}
    return {k: v for k, v in given.items() if v}


def _row_input(cells: list[str], columns: dict[str, int], custom: dict[int, tuple[str, str]]
               ) -> tuple[IndividualIn | None, dict[str, str], list[str]]:
    """One row → (the validated individual or None, its keys, the reasons it is invalid).
    Reasons name the field, never its value (it may be PII). A masked PII value (from a masked
    export) is treated as not given: it never overwrites the real one."""
    from pydantic import ValidationError

    from intake.domain.values import ValueProblem, parse_date

    def cell(i: int) -> str:
        return cells[i].strip() if i < len(cells) else ""

    reasons: list[str] = []
    data: dict[str, Any] = {}
    keys = _row_keys(cells, columns)
    for f, i in columns.items():
        v = cell(i)
        if f in KEY_COLUMNS or not v or (f in PII_FIELDS and v.startswith("***")):
            continue
        if f in DATE_FIELDS:
            try:
                data[f] = parse_date(v)
            except ValueProblem:
                reasons.append(f"{f}: not a date")
                continue
        else:
            data[f] = v
    customs: list[CustomField] = []
    for i, (ctype, cname) in custom.items():
        if not cell(i):
            continue
        try:
            customs.append(CustomField(name=cname, type=ctype, value=cell(i)))  # type: ignore[arg-type]
        except ValidationError as exc:
            reasons.extend(f"{cname}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
    try:
        ind = IndividualIn.model_validate({**data, "custom_fields": customs})
    except ValidationError as exc:
        reasons.extend(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        ind = None
    return (None if reasons else ind), keys, reasons


def _merge_custom(old: list[dict[str, Any]], new: list[CustomField]) -> list[dict[str, Any]]:
    given = {c.name: c.model_dump(mode="json") for c in new}
    kept = [c if c.get("name") not in given else given.pop(c["name"]) for c in old]
    return kept + list(given.values())


Pending = list[tuple[int, IndividualIn, dict[str, str], list[str]]]  # line, input, keys, cells


@dataclass
class ImportChunk:
    """Consecutive data rows of a file, read and validated: the valid ones to write, the results of
    the invalid ones, how many rows (blank included) and the last line they cover."""

    pending: Pending = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    invalid_cells: dict[int, list[str]] = field(default_factory=dict)
    rows: int = 0
    blank: int = 0
    last_line: int = 0


class ImportReader:
    """Reads an individuals file chunk by chunk: the header, then each row parsed and validated,
    with the "already on line N of this file" check on its keys. ``read_chunk`` is blocking (it
    reads the file): call it in a worker thread. ``resume_after``: the rows up to this line were
    done by an earlier run; they are not returned again, but their keys are still remembered, so
    the duplicate check spans the whole file."""

    def __init__(self, path: Any, file_name: str, chunk_rows: int, resume_after: int = 0) -> None:
        from agency_common.tabular import open_table

        _info, self._rows = open_table(path, file_name)
        self.chunk_rows = max(chunk_rows, 1)
        self.resume_after = resume_after
        self.header: list[str] | None = None
        self.columns: dict[str, int] = {}
        self.custom: dict[int, tuple[str, str]] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.finished = False

    @property
    def pii_columns(self) -> list[int]:
        return sorted(self.columns[f] for f in PII_FIELDS if f in self.columns)

    def _take_header(self, cells: list[str]) -> None:
        from agency_common.tabular import TabularError

        self.columns, self.custom = individual_columns(cells)
        if not set(self.columns) - set(KEY_COLUMNS):
            raise TabularError("not an individuals file: no column names an individual field")
        self.header = cells

    def _remember_keys(self, line_no: int, keys: dict[str, str]) -> list[str]:
        reasons = []
        for k, v in keys.items():
            if (k, v) in self.seen:
                reasons.append(f"{k}: already on line {self.seen[k, v]} of this file")
            else:
                self.seen[k, v] = line_no
        return reasons

    def read_chunk(self) -> ImportChunk | None:
        """The next ``chunk_rows`` data rows, or None at the end of the file."""
        from agency_common.tabular import TabularError, is_blank

        if self.finished:
            return None
        chunk = ImportChunk()
        for line_no, cells in self._rows:
            if self.header is None:
                if not is_blank(cells):
                    self._take_header(cells)
                continue
            blank = is_blank(cells)
            if line_no <= self.resume_after:
                if not blank:
                    self._remember_keys(line_no, _row_keys(cells, self.columns))
                continue
            chunk.rows += 1
            chunk.last_line = line_no
            if blank:
                chunk.blank += 1
            else:
                ind, keys, reasons = _row_input(cells, self.columns, self.custom)
                reasons += self._remember_keys(line_no, keys)
                if reasons or ind is None:
                    chunk.invalid_cells[line_no] = cells
                    chunk.invalid.append({"line": line_no, "outcome": "invalid", "id": None, "reasons": reasons,
                                          "name": ", ".join(cells[self.columns[f]].strip() for f in ("last_name", "first_name")
                                                            if f in self.columns and self.columns[f] < len(cells)
                                                            and cells[self.columns[f]].strip())})
                else:
                    chunk.pending.append((line_no, ind, keys, cells))
            if chunk.rows >= self.chunk_rows:
                return chunk
        self.finished = True
        if self.header is None:
            raise TabularError("the file has no header row")
        return chunk if chunk.rows else None


def count_data_rows(path: Any, file_name: str) -> int:
    """The data rows of a file (after its first non-blank row; blank ones included), read with the
    same reader as the import, so quoted line breaks and spreadsheets count right. A file the
    reader refuses part-way counts the rows before the refusal: the import reports the reason."""
    from agency_common.tabular import TabularError, is_blank, open_table

    count, header_seen = 0, False
    try:
        _info, rows = open_table(path, file_name)
        for _line, cells in rows:
            if header_seen:
                count += 1
            elif not is_blank(cells):
                header_seen = True
    except TabularError:
        pass
    return count


async def read_import_chunks(reader: ImportReader) -> AsyncIterator[ImportChunk]:
    """The file's chunks, each read in a worker thread: the event loop serves requests meanwhile."""
    import asyncio

    while (chunk := await asyncio.to_thread(reader.read_chunk)) is not None:
        yield chunk


async def write_import_chunk(tx: Transaction, cipher: PiiCipher, file_name: str, chunk: ImportChunk,
                             touched: dict[str, int]) -> list[dict[str, Any]]:
    """Creates and updates of one chunk in the caller's transaction (executemany, never an ORM
    object per row); returns every non-blank row's result. ``touched``: the individuals already
    updated by earlier lines of the file (individual id → line), kept up to date."""
    from sqlalchemy import bindparam

    actor = tx.actor
    pending = chunk.pending
    results = list(chunk.invalid)
    ids = [k["id"] for _, _, k, _ in pending if "id" in k]
    exts = [k["external_id"] for _, _, k, _ in pending if "external_id" in k and "id" not in k]
    by_id: dict[str, str] = {}
    by_ext: dict[str, str] = {}
    if ids:
        by_id = {r.id: r.custom_fields for r in (await tx.session.execute(
            select(IND.c.id, IND.c.custom_fields).where(one_of(tx.session, IND.c.id, ids)))).all()}
    if exts:
        for r in (await tx.session.execute(select(IND.c.id, IND.c.external_id, IND.c.custom_fields)
                                           .where(one_of(tx.session, IND.c.external_id, exts)))).all():
            by_ext[r.external_id], by_id[r.id] = r.id, r.custom_fields
    now = utcnow()
    creates: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    audits: list[dict[str, Any]] = []
    for line, d, keys, cells in pending:
        name = ", ".join(x for x in (d.last_name, d.first_name) if x)
        target = keys.get("id") or by_ext.get(keys.get("external_id", ""))
        reason = ("id: no individual has this id" if "id" in keys and target not in by_id else
                  f"this individual is already on line {touched[target]} of this file" if target in touched else None)
        if reason:
            chunk.invalid_cells[line] = cells
            results.append({"line": line, "outcome": "invalid", "id": None, "name": name, "reasons": [reason]})
            continue
        if target is not None:
            touched[target] = line  # a second row for it would make the outcome depend on row order
        if target is None:
            new_id = str(uuid.uuid4())
            creates.append({**storage_values(d, cipher), "id": new_id, "external_id": keys.get("external_id"),
                            "version": 1, "custom_fields": json.dumps([c.model_dump(mode="json") for c in d.custom_fields]),
                            "created_by": actor, "created_at": now, "updated_at": now})
            results.append({"line": line, "outcome": "created", "id": new_id, "name": name, "reasons": []})
            continue
        # blank cells leave the individual's value alone; custom fields merge by name
        values = {storage_key(f): encrypt_field(cipher, f, v) for f, v in d.model_dump(
            exclude={"custom_fields"}, exclude_none=True).items()}
        values["custom_fields"] = json.dumps(_merge_custom(json.loads(by_id[target]), d.custom_fields))
        updates.setdefault(tuple(sorted(values)), []).append({**values, "_id": target})
        audits.append({"id": str(uuid.uuid4()), "individual_id": target, "action": "csv_import_update",
                       "actor": actor, "at": now, "details": json.dumps({
                           "file": file_name, "line": line,
                           "fields": sorted(f for f in d.model_dump(exclude_none=True) if f != "custom_fields"),
                           "custom_fields": [c.name for c in d.custom_fields]})})
        results.append({"line": line, "outcome": "updated", "id": target, "name": name, "reasons": []})
    if creates:
        await tx.session.execute(insert(IND), creates)
    for cols, rows in updates.items():
        stmt = update(IND).where(IND.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in cols} | {"version": IND.c.version + 1, "updated_at": now})
        await tx.session.execute(stmt, rows)
    if audits:
        await tx.session.execute(insert(IndividualAudit.__table__), audits)
    return results


async def import_individuals_csv(runtime: Any, path: Any, file_name: str, actor: str) -> dict[str, Any]:
    """Every row is accounted for: created, updated (a row whose Individual ID or External ID names
    an existing individual), invalid (with line and reasons) or blank (counted, not an error).
    Also returns what a screen needs to offer the invalid rows back: the header, the invalid rows'
    cells and which columns hold PII. The synchronous path: a background import
    (``intake.individual_imports``) runs the same reader and chunk writer."""
    cipher = _cipher(runtime)
    reader = ImportReader(path, file_name, runtime.settings.individuals_import_chunk)
    counts = {"total": 0, "created": 0, "updated": 0, "invalid": 0, "blank": 0}
    results: list[dict[str, Any]] = []
    invalid_cells: dict[int, list[str]] = {}
    touched: dict[str, int] = {}
    async for chunk in read_import_chunks(reader):
        counts["total"] += chunk.rows
        counts["blank"] += chunk.blank
        if chunk.pending:
            async with runtime.uow(actor=actor) as tx:
                results += await write_import_chunk(tx, cipher, file_name, chunk, touched)
        else:
            results += chunk.invalid
        invalid_cells |= chunk.invalid_cells
    results.sort(key=lambda r: r["line"])
    for r in results:
        counts[r["outcome"]] += 1
    invalid = [r for r in results if r["outcome"] == "invalid"]
    return counts | {"errors": [{"line": r["line"], "errors": r["reasons"]} for r in invalid], "results": results,
                     "header": reader.header, "pii_columns": reader.pii_columns,
                     "invalid_rows": [(r["line"], invalid_cells[r["line"]], r["reasons"]) for r in invalid]}


async def save_upload(file: Any, max_bytes: int) -> str:
    """An uploaded file to a temporary path, refused past ``max_bytes`` (nothing caps a request
    body for us). The caller removes the file."""
    import os
    import tempfile

    from agency_common.tabular import TooLarge

    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(file.filename or "")[1][:10])
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while block := await file.read(1 << 20):
                size += len(block)
                if size > max_bytes:
                    raise TooLarge(f"the file is larger than {max_bytes // (1024 * 1024)} MiB")
                out.write(block)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def invalid_rows_csv(result: dict[str, Any], reveal: bool) -> tuple[list[str], list[list[str]]]:
    """The invalid rows offered back (line, reasons, then the file's own columns) so they can be
    fixed and re-imported; PII cells masked unless the user may reveal them (a masked cell is
    ignored on re-import, it never overwrites the real value)."""
    pii = set(result["pii_columns"])
    rows = [[str(line), "; ".join(reasons),
             *[(c if reveal or i not in pii or not c.strip() else mask(c.strip()) or "") for i, c in enumerate(cells)]]
            for line, cells, reasons in result["invalid_rows"]]
    return ["line", "errors", *result["header"]], rows


def results_csv(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    return ["line", "outcome", "individual_id", "name", "reasons"], [
        [str(r["line"]), r["outcome"], r["id"] or "", r["name"], "; ".join(r["reasons"])] for r in result["results"]]
