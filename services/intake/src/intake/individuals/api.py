"""Individuals, Individual Advanced Search, saved searches, sales-record jobs, Convert to Individual."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.tabular import TabularError, csv_bytes
from agency_common.web.deps import Offset, Runtime, Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter, File, Header, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from intake.errors import NotFound
from intake.individuals.import_jobs import ImportJobs
from intake.individuals.import_jobs import job_json as import_job_json
from intake.individuals.importing import save_upload, template_columns
from intake.individuals.pii import require_cipher
from intake.individuals.pii_audit import record_invalid_rows_export, record_reveals, record_search_export
from intake.individuals.queries import (
    SAVED_SEARCH_SORTING,
    audits_of,
    list_sales_records,
    preview_counts,
    resolve_criteria,
    saved_searches,
    search,
    search_export_csv,
)
from intake.individuals.sales_record_jobs import SalesJobs, start_job
from intake.individuals.schemas import (
    AuditList,
    ConvertOut,
    ImportJobAccepted,
    ImportJobOut,
    ImportResult,
    ImportResultsPage,
    IndividualIn,
    IndividualOut,
    IndividualPage,
    PreviewIn,
    PreviewOut,
    SalesRecordJobIn,
    SalesRecordJobOut,
    SalesRecordOut,
    SalesRecordPage,
    SavedSearchChange,
    SavedSearchDeleted,
    SavedSearchIn,
    SavedSearchList,
    SavedSearchOut,
    SearchCriteria,
    SearchRequest,
    individual_json,
    job_json,
    sales_record_json,
    saved_search_json,
)
from intake.individuals.usecases import (
    change_search,
    convert_to_individual,
    create_individual,
    delete_search,
    save_search,
    update_individual,
    update_sales_record,
)
from intake.models import Individual, SalesRecord, SalesRecordJob

router = APIRouter(prefix="/api", tags=["individuals"])
REVEAL = "pii:reveal"


@router.post("/individuals", status_code=201, response_model=IndividualOut, response_model_exclude_unset=True)
async def create_individual_route(runtime: Runtime, body: IndividualIn,
                                  user: Annotated[User, require("individuals:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        ind = await create_individual(tx, body, require_cipher(runtime))
    await record_reveals(runtime, user, [ind.id])
    return individual_json(ind, runtime.pii, user.can(REVEAL))


@router.patch("/individuals/{individual_id}", response_model=IndividualOut, response_model_exclude_unset=True)
async def patch_individual(runtime: Runtime, individual_id: str, body: IndividualIn,
                           user: Annotated[User, require("individuals:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        ind = await update_individual(tx, individual_id, body, require_cipher(runtime))
    await record_reveals(runtime, user, [ind.id])
    return individual_json(ind, runtime.pii, user.can(REVEAL))


@router.post("/individuals/import", response_model=ImportResult, responses={
    202: {"model": ImportJobAccepted, "description": "a large file: a background job (poll `job.url`)"}})
async def import_individuals(runtime: Runtime, imports: ImportJobs, user: Annotated[User, require("individuals:edit")],
                             file: Annotated[UploadFile, File(description="CSV or XLSX; header row of field names")],
                             idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    """Every row's result (`total`, `created`, `updated`, `invalid`, `blank`, `errors`, `results`).
    Above `individuals_import_background_threshold` data rows: 202 `{"background": true, "job"}`,
    the job at `/api/individual-imports/{id}`; with an `Idempotency-Key`, a repeat answers the job
    that key started (200) and starts nothing."""
    if (job := await imports.for_key(idempotency_key)) is not None:
        return JSONResponse({"background": True, "job": job}, headers={"Location": job["url"]})
    try:
        tmp = await save_upload(file, runtime.settings.max_upload_bytes)
    except TabularError as exc:
        raise HTTPException(413, str(exc)) from None
    try:
        out = await imports.submit(tmp, file.filename or "individuals.csv", user.login, idempotency_key)
    except TabularError as exc:
        raise HTTPException(422, str(exc)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):  # a job took the file away
            os.unlink(tmp)
    if "job" in out:
        job = out["job"]
        return JSONResponse({"background": True, "job": job}, status_code=202 if out["created"] else 200,
                            headers={"Location": job["url"]})
    # the invalid rows' cells may hold PII: the API answers with lines and reasons only
    result = out["result"]
    return JSONResponse({k: result[k] for k in ("total", "created", "updated", "invalid", "blank", "errors", "results")})


@router.get("/individual-imports/{import_id}", response_model=ImportJobOut, response_model_exclude_unset=True)
async def individual_import(imports: ImportJobs, import_id: str,
                            _user: Annotated[User, require("individuals:edit")]) -> dict[str, Any]:
    """A background import: `status` (queued | running | done | failed), `error`, `total` data
    rows, `rows_done` and `progress` (0..1), the counts, who started it and when."""
    return import_job_json(await imports.get(import_id))


@router.get("/individual-imports/{import_id}/results", response_model=ImportResultsPage, response_model_exclude_unset=True)
async def individual_import_results(imports: ImportJobs, import_id: str,
                                    _user: Annotated[User, require("individuals:edit")],
                                    offset: Offset = 0,
                                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                                    outcome: Annotated[str | None, Query(pattern="^(created|updated|invalid)$")] = None,
                                    ) -> dict[str, Any]:
    """Each non-blank row's outcome in line order (line, outcome, individual id, name, reasons;
    never the cells), a page at a time."""
    await imports.get(import_id)  # an unknown id: 404
    total, items = await imports.results(import_id, offset, limit, outcome)
    return {"total": total, "offset": offset, "limit": limit, "items": items,
            "next_offset": offset + len(items) if offset + len(items) < total else None}


@router.get("/individual-imports/{import_id}/errors.csv")
async def individual_import_errors(runtime: Runtime, imports: ImportJobs, import_id: str,
                                   user: Annotated[User, require("individuals:edit")]) -> StreamingResponse:
    """The invalid rows as uploaded, to fix and import again: line, reasons, the file's columns
    (PII masked unless the user may reveal it; formulas neutralised)."""
    job = await imports.get(import_id)
    await record_invalid_rows_export(runtime, user, header=json.loads(job.header or "[]"),
                                     pii_indexes=json.loads(job.pii_columns or "[]"), rows=job.invalid or 0,
                                     import_id=job.id)
    return StreamingResponse(imports.errors_csv(job, user.can(REVEAL)), media_type="text/csv",
                             headers=attachment("invalid-individuals.csv"))


@router.get("/individuals/import-template.csv")
async def import_template(_user: Annotated[User, require("individuals:edit")]) -> StreamingResponse:
    """The CSV import's columns (keys, every standard field, one custom column per type)."""
    return StreamingResponse(csv_bytes(template_columns(), []), media_type="text/csv",
                             headers=attachment("individuals-template.csv"))


@router.get("/individuals/{individual_id}", response_model=IndividualOut, response_model_exclude_unset=True)
async def get_individual(runtime: Runtime, session: Session, individual_id: str,
                         user: Annotated[User, require("individuals:view")]) -> dict[str, Any]:
    ind = await session.get(Individual, individual_id)
    if ind is None:
        raise NotFound("no such individual")
    await record_reveals(runtime, user, [ind.id])
    return individual_json(ind, require_cipher(runtime), user.can(REVEAL))


@router.get("/individuals/{individual_id}/audit", response_model=AuditList, response_model_exclude_unset=True)
async def individual_audit(session: Session, individual_id: str,
                           _user: Annotated[User, require("individuals:view")]) -> dict[str, Any]:
    return {"items": await audits_of(session, individual_id)}


@router.post("/individuals/search", response_model=IndividualPage, response_model_exclude_unset=True)
async def search_route(runtime: Runtime, session: Session, body: SearchRequest,
                       user: Annotated[User, require("individuals:view")]) -> dict[str, Any]:
    total, rows = await search(session, SearchCriteria.model_validate(body.model_dump(
        exclude={"sort", "limit", "offset"})), sort=body.sort, limit=body.limit, offset=body.offset)
    cipher, reveal = require_cipher(runtime), user.can(REVEAL)
    await record_reveals(runtime, user, [i.id for i in rows])
    return {"total": total, "limit": body.limit, "offset": body.offset,
            "items": [individual_json(i, cipher, reveal) for i in rows]}


@router.post("/individuals/search.csv")
async def search_csv(runtime: Runtime, body: SearchCriteria,
                     user: Annotated[User, require("individuals:view")]) -> StreamingResponse:
    """The whole result as CSV (PII masked unless the user may reveal it; formulas neutralised)."""
    await record_search_export(runtime, user, body)
    return StreamingResponse(search_export_csv(runtime.db, body, require_cipher(runtime), user.can(REVEAL)),
                             media_type="text/csv", headers=attachment("individuals.csv"))


@router.post("/saved-searches", status_code=201, response_model=SavedSearchOut, response_model_exclude_unset=True)
async def create_saved_search(runtime: Runtime, body: SavedSearchIn,
                              user: Annotated[User, require("individuals:view", "searches:save")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        s = await save_search(tx, body.name, body.criteria)
    return saved_search_json(s)


@router.get("/saved-searches", response_model=SavedSearchList, response_model_exclude_unset=True)
async def list_saved_searches(
    session: Session, _user: Annotated[User, require("individuals:view")], owner: str | None = None,
    sort: Annotated[str, Query(description="name, owner or created_at; -column for descending")] = (
        SAVED_SEARCH_SORTING.default),
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Offset = 0,
) -> dict[str, Any]:
    """The saved searches, each with its criteria in words and the sales-record jobs it ran, a page at a time."""
    found = await saved_searches(session, sort, offset, limit, owner=owner or None)
    rows = found.items
    jobs = (await session.execute(select(SalesRecordJob).where(
        SalesRecordJob.saved_search_id.in_([s.id for s in rows])))).scalars().all()
    by_search: dict[str, list[dict[str, Any]]] = {}
    for j in jobs:
        by_search.setdefault(j.saved_search_id or "", []).append(job_json(j))
    return found.api([saved_search_json(s) | {"jobs": by_search.get(s.id, [])} for s in rows])


@router.patch("/saved-searches/{search_id}", response_model=SavedSearchOut, response_model_exclude_unset=True)
async def change_saved_search(runtime: Runtime, search_id: str, body: SavedSearchChange,
                              user: Annotated[User, require("individuals:view", "searches:save")]) -> dict[str, Any]:
    """Rename a saved search or give it other criteria: its owner, or a user with searches:manage."""
    async with runtime.uow(actor=user.login) as tx:
        s = await change_search(tx, search_id, body, may_manage=user.can("searches:manage"))
    return saved_search_json(s)


@router.delete("/saved-searches/{search_id}", response_model=SavedSearchDeleted, response_model_exclude_unset=True)
async def delete_saved_search(runtime: Runtime, search_id: str,
                              user: Annotated[User, require("individuals:view", "searches:save")]) -> dict[str, Any]:
    """Remove a saved search (its owner, or a user with searches:manage); the trail keeps what it was."""
    async with runtime.uow(actor=user.login) as tx:
        await delete_search(tx, search_id, may_manage=user.can("searches:manage"))
    return {"id": search_id, "deleted": True}


@router.post("/sales-record-jobs/preview", response_model=PreviewOut, response_model_exclude_unset=True)
async def preview_job(runtime: Runtime, session: Session, body: PreviewIn,
                      _user: Annotated[User, require("individuals:edit", "sales_enablement:view")]) -> dict[str, Any]:
    """The confirmation: how many sales records will be created and how many individuals skipped."""
    c = await resolve_criteria(session, body.criteria, body.saved_search_id)
    counts = await preview_counts(session, c)
    return counts | {"sales_record_types": runtime.settings.sales_record_types}


@router.post("/sales-record-jobs", status_code=202, response_model=SalesRecordJobOut)
async def create_job(runtime: Runtime, sales_jobs: SalesJobs, body: SalesRecordJobIn,
                     user: Annotated[User, require("individuals:edit", "sales_enablement:view")]) -> JSONResponse:
    async with runtime.uow(actor=user.login) as tx:
        job, created = await start_job(tx, body, runtime.settings.sales_record_types)
    if created:
        sales_jobs.launch(job.id)
    return JSONResponse(job_json(job), status_code=202 if created else 200)


@router.get("/sales-record-jobs/{job_id}", response_model=SalesRecordJobOut, response_model_exclude_unset=True)
async def get_job(session: Session, job_id: str,
                  _user: Annotated[User, require("sales_enablement:view")]) -> dict[str, Any]:
    job = await session.get(SalesRecordJob, job_id)
    if job is None:
        raise NotFound("no such job")
    return job_json(job)


@router.get("/sales-records", response_model=SalesRecordPage, response_model_exclude_unset=True)
async def list_sales_records_route(runtime: Runtime, session: Session,
                                   user: Annotated[User, require("sales_enablement:view")],
                                   individual_id: str | None = None, job_id: str | None = None,
                                   sales_record_type: str | None = None,
                                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                                   offset: Offset = 0) -> dict[str, Any]:
    total, rows = await list_sales_records(session, sales_record_type=sales_record_type, job_id=job_id,
                                           individual_id=individual_id, limit=limit, offset=offset)
    cipher, reveal = require_cipher(runtime), user.can(REVEAL)
    await record_reveals(runtime, user, [r.individual_id for r in rows], shown_in="sales_records")
    return {"total": total, "limit": limit, "offset": offset,
            "items": [sales_record_json(r, cipher, reveal) for r in rows]}


@router.get("/sales-records/{record_id}", response_model=SalesRecordOut, response_model_exclude_unset=True)
async def get_sales_record(runtime: Runtime, session: Session, record_id: str,
                           user: Annotated[User, require("sales_enablement:view")]) -> dict[str, Any]:
    rec = await session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("no such sales record")
    await record_reveals(runtime, user, [rec.individual_id], shown_in="sales_records")
    return sales_record_json(rec, require_cipher(runtime), user.can(REVEAL))


@router.patch("/sales-records/{record_id}", response_model=SalesRecordOut, response_model_exclude_unset=True)
async def patch_sales_record(runtime: Runtime, record_id: str, body: dict[str, Any],
                             user: Annotated[User, require("sales_enablement:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        rec = await update_sales_record(tx, record_id, body, require_cipher(runtime))
    await record_reveals(runtime, user, [rec.individual_id], shown_in="sales_records")
    return sales_record_json(rec, runtime.pii, user.can(REVEAL))


@router.post("/sales-records/{record_id}/convert-to-individual", response_model=ConvertOut, response_model_exclude_unset=True)
async def convert_route(runtime: Runtime, record_id: str,
                        user: Annotated[User, require("individuals:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        ind, filled, conflicts = await convert_to_individual(tx, record_id, require_cipher(runtime))
    await record_reveals(runtime, user, [ind.id])
    return {"individual": individual_json(ind, runtime.pii, user.can(REVEAL)), "filled": filled,
            "conflicts_kept_individual": conflicts}
