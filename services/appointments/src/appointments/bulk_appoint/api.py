"""Bulk appoint (JSON): requests or a file, answered now or as a background job."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web import ServiceRuntime
from agency_common.web.deps import Offset, Runtime
from fastapi import APIRouter, File, Header, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from appointments import models as m
from appointments.bulk_appoint import files, jobs
from appointments.bulk_appoint.schemas import BulkAnswer, BulkAppoint, JobDetail, JobOut, JobStarted
from appointments.domain import rows as rowcheck
from appointments.errors import Conflict, Invalid
from appointments.transactions import transactions
from appointments.web import csv_response, read_upload

router = APIRouter(prefix="/api")


async def _once(runtime: ServiceRuntime, key: str | None, user: User, work: Any) -> dict[str, Any]:
    """Run ``work(tx)`` once per Idempotency-Key (a repeated click or a client retry gets the first
    answer, nothing is created twice); without a key, every call runs."""
    async with runtime.uow(actor=user.login) as tx:
        if _key(key):
            done = await tx.session.get(m.BulkAppointCall, key)
            if done is not None:
                return done.response | {"replayed": True}
        out = await work(tx)
        if key:
            tx.session.add(m.BulkAppointCall(idempotency_key=key, created_by=user.login, response=out))
        return out


def _key(key: str | None) -> str | None:
    if key and len(key) > 100:
        raise Invalid("Idempotency-Key longer than 100 characters")
    if key and key.startswith("job:"):  # the namespace of background chunks' claims
        raise Invalid("Idempotency-Key may not start with 'job:'")
    return key


def _answer(out: dict[str, Any], response: Response) -> dict[str, Any]:
    """200 with the results; 202 with the job (and its URL) when it runs in the background."""
    if out.get("background"):
        response.status_code = 202
        response.headers["Location"] = out["job"]["url"]
    return out


_CONFLICT = ("a concurrent call with the same Idempotency-Key, or an identical transaction submitted at the "
             "same time: retry")


@router.post("/appointments/bulk", tags=["bulk appoint"], response_model=BulkAnswer, response_model_exclude_unset=True,
             responses={202: {"model": JobStarted, "description": "above the background threshold: the job, to "
                                                                  "follow at `GET /api/appointment-jobs/{id}`"}})
async def bulk_appoint_route(runtime: Runtime, body: BulkAppoint, response: Response,
                             user: Annotated[User, require("appointments:submit")],
                             idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    try:
        if len(body.requests) > runtime.settings.bulk_background_threshold:
            return _answer(await jobs.start_job(runtime, user.login, body.requests, source="api",
                                                key=_key(idempotency_key)), response)
        return _answer(await _once(runtime, idempotency_key, user,
                                   lambda tx: transactions.appoint(tx, body.requests)), response)
    except IntegrityError:
        raise Conflict(_CONFLICT) from None


@router.post("/appointments/bulk-file", tags=["bulk appoint"], response_model=BulkAnswer,
             response_model_exclude_unset=True,
             responses={202: {"model": JobStarted, "description": "above the background threshold: the job"}})
async def bulk_appoint_file_route(runtime: Runtime, file: Annotated[UploadFile, File()], response: Response,
                                  user: Annotated[User, require("appointments:submit")],
                                  idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    content = await read_upload(runtime, file)
    parsed = files.parse_bulk_appoint_file(content, file.filename)
    try:
        if len(parsed.requests) > runtime.settings.bulk_background_threshold:
            return _answer(await jobs.start_job(runtime, user.login, parsed.requests, source="file",
                                                lines=parsed.lines, row_errors=parsed.row_errors,
                                                blank_rows=parsed.blank_rows, key=_key(idempotency_key)), response)
        return _answer(await _once(runtime, idempotency_key, user,
                                   lambda tx: files.bulk_appoint_file(tx, parsed)), response)
    except IntegrityError:
        raise Conflict(_CONFLICT) from None


@router.get("/appointment-jobs", tags=["bulk appoint"], response_model=list[JobOut], response_model_exclude_unset=True)
async def list_appointment_jobs(runtime: Runtime, _user: Annotated[User, require("appointments:view")],
                                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    return await jobs.list_jobs(runtime, limit)


@router.get("/appointment-jobs/{job_id}", tags=["bulk appoint"], response_model=JobDetail,
            response_model_exclude_unset=True)
async def get_appointment_job(runtime: Runtime, job_id: str, _user: Annotated[User, require("appointments:view")],
                              offset: Offset = 0,
                              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """A background bulk appoint: status (queued, running, done, failed), total, processed,
    rejected, transactions, its batches (one per CoCode) and one page of per-request results."""
    return await jobs.get_job(runtime, job_id, offset, limit)


@router.get("/appointments/bulk-file/template.csv", tags=["bulk appoint"])
async def bulk_appoint_template(_user: Annotated[User, require("appointments:submit")]) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.BULK_APPOINT_COLUMNS,
                                        [["1234567", "CA;TX", "Life & Health", "60054", "true", "false"]]),
                        "bulk_appoint_template.csv")
