"""appointments' JSON API: routes translate (parse, call the use case, map errors)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import CurrentUser, User, require
from agency_common.pii import mask
from agency_common.validation import NonBlankStr
from fastapi import APIRouter, Body, File, Header, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from appointments import imports, jobs, portals, refdata, report, transactions
from appointments import models as m
from appointments.domain import rows as rowcheck
from appointments.domain.rows import FileError
from appointments.usecases import (
    BatchStateError,
    BulkAppoint,
    batch_summary,
    close_not_eligible,
    close_transactions,
    complete_task,
    list_tasks,
    request_license_sync,
    submit_batch,
)

router = APIRouter(prefix="/api")


def runtime(request: Request) -> Any:
    return request.app.state.runtime


async def read_upload(request: Request, file: UploadFile) -> bytes:
    limit = runtime(request).settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(413, f"file larger than {limit} bytes")
    return content


def csv_response(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- batches --------------------------------------------------------------------------------------------
async def batch_view(request: Request, batch_id: str) -> dict[str, Any]:
    async with runtime(request).db.session() as session:
        batch = await session.get(m.TransactionBatch, batch_id)
        if batch is None:
            raise HTTPException(404, "no such batch")
        T = m.AppointmentTransaction
        rows = (await session.execute(select(T).where(T.batch_id == batch_id)
                                      .order_by(T.state, T.npn, T.line_of_authority))).scalars().all()
        summary = await batch_summary(session, batch_id)
    return batch.model_dump(mode="json") | summary | {
        "transactions": [r.model_dump(mode="json", exclude={"idempotency_key"}) for r in rows]}


@router.get("/transaction-batches", tags=["transaction batches"])
async def list_batches(request: Request, _user: CurrentUser, limit: int = 100) -> list[dict[str, Any]]:
    async with runtime(request).db.session() as session:
        rows = (await session.execute(select(m.TransactionBatch).order_by(
            m.TransactionBatch.created_at.desc()).limit(min(limit, 1000)))).scalars().all()
    return [r.model_dump(mode="json") for r in rows]


@router.get("/transaction-batches/{batch_id}", tags=["transaction batches"])
async def get_batch(request: Request, batch_id: str, _user: CurrentUser) -> dict[str, Any]:
    return await batch_view(request, batch_id)


class SubmitOptions(BaseModel):
    include_jit: bool = False


@router.post("/transaction-batches/{batch_id}/submit", tags=["transaction batches"])
async def submit_batch_route(request: Request, batch_id: str, user: Annotated[User, require("appointments:submit")],
                             body: Annotated[SubmitOptions | None, Body()] = None) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            await submit_batch(tx, batch_id, include_jit=bool(body and body.include_jit))
    except LookupError:
        raise HTTPException(404, "no such batch") from None
    except BatchStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return await batch_view(request, batch_id)


class CloseReason(BaseModel):
    reason: NonBlankStr = Field(max_length=500)


@router.post("/transaction-batches/{batch_id}/close-not-eligible", tags=["transaction batches"])
async def close_not_eligible_route(request: Request, batch_id: str,
                                   user: Annotated[User, require("appointments:submit")],
                                   body: Annotated[CloseReason | None, Body()] = None) -> dict[str, Any]:
    async with runtime(request).uow(actor=user.login) as tx:
        if await tx.session.get(m.TransactionBatch, batch_id) is None:
            raise HTTPException(404, "no such batch")
        closed = await close_not_eligible(tx, batch_id, body.reason if body else None)
    return {"batch_id": batch_id, "closed": closed}


class CloseTransactions(CloseReason):
    transaction_ids: list[str] = Field(min_length=1, max_length=10_000)


@router.post("/transactions/close", tags=["transaction batches"])
async def close_transactions_route(request: Request, body: CloseTransactions,
                                   user: Annotated[User, require("appointments:submit")]) -> dict[str, Any]:
    """Close transactions by id, with a reason: Ready or JIT Held ones are withdrawn before NIPR (a
    review batch drops a row this way), Not Eligible and Rejected ones set aside. Each id that
    cannot be closed (pending at NIPR, answered, unknown) is listed with why; the rest are closed."""
    async with runtime(request).uow(actor=user.login) as tx:
        return await close_transactions(tx, body.transaction_ids, body.reason)


# -- bulk appoint ---------------------------------------------------------------------------------------
async def _once(request: Request, key: str | None, user: User, work: Any) -> dict[str, Any]:
    """Run ``work(tx)`` once per Idempotency-Key (a repeated click or a client retry gets the first
    answer, nothing is created twice); without a key, every call runs."""
    async with runtime(request).uow(actor=user.login) as tx:
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
        raise HTTPException(422, "Idempotency-Key longer than 100 characters")
    if key and key.startswith("job:"):  # the namespace of background chunks' claims
        raise HTTPException(422, "Idempotency-Key may not start with 'job:'")
    return key


def _answer(out: dict[str, Any]) -> JSONResponse:
    """200 with the results; 202 with the job (and its URL) when it runs in the background."""
    if out.get("background"):
        return JSONResponse(out, status_code=202, headers={"Location": out["job"]["url"]})
    return JSONResponse(out)


_CONFLICT = ("a concurrent call with the same Idempotency-Key, or an identical transaction submitted at the "
             "same time: retry")


@router.post("/appointments/bulk", tags=["bulk appoint"], response_model=dict[str, Any],
             responses={202: {"description": "above the background threshold: the job, to follow at "
                                             "`GET /api/appointment-jobs/{id}`"}})
async def bulk_appoint_route(request: Request, body: BulkAppoint,
                             user: Annotated[User, require("appointments:submit")],
                             idempotency_key: Annotated[str | None, Header()] = None) -> JSONResponse:
    rt = runtime(request)
    try:
        if len(body.requests) > rt.settings.bulk_background_threshold:
            return _answer(await jobs.start_job(rt, user.login, body.requests, source="api",
                                                key=_key(idempotency_key)))
        return _answer(await _once(request, idempotency_key, user, lambda tx: transactions.appoint(tx, body.requests)))
    except IntegrityError:
        raise HTTPException(409, _CONFLICT) from None


@router.post("/appointments/bulk-file", tags=["bulk appoint"], response_model=dict[str, Any],
             responses={202: {"description": "above the background threshold: the job"}})
async def bulk_appoint_file_route(request: Request, file: Annotated[UploadFile, File()],
                                  user: Annotated[User, require("appointments:submit")],
                                  idempotency_key: Annotated[str | None, Header()] = None) -> JSONResponse:
    content = await read_upload(request, file)
    rt = runtime(request)
    try:
        parsed = imports.parse_bulk_appoint_file(content, file.filename)
        if len(parsed.requests) > rt.settings.bulk_background_threshold:
            return _answer(await jobs.start_job(rt, user.login, parsed.requests, source="file", lines=parsed.lines,
                                                row_errors=parsed.row_errors, blank_rows=parsed.blank_rows,
                                                key=_key(idempotency_key)))
        return _answer(await _once(request, idempotency_key, user, lambda tx: imports.bulk_appoint_file(tx, parsed)))
    except FileError as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:
        raise HTTPException(409, _CONFLICT) from None


@router.get("/appointment-jobs", tags=["bulk appoint"])
async def list_appointment_jobs(request: Request, _user: CurrentUser,
                                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    return await jobs.list_jobs(runtime(request), limit)


@router.get("/appointment-jobs/{job_id}", tags=["bulk appoint"])
async def get_appointment_job(request: Request, job_id: str, _user: CurrentUser,
                              offset: Annotated[int, Query(ge=0)] = 0,
                              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """A background bulk appoint: status (queued, running, done, failed), total, processed,
    rejected, transactions, its batches (one per CoCode) and one page of per-request results."""
    try:
        return await jobs.get_job(runtime(request), job_id, offset, limit)
    except jobs.NotFound:
        raise HTTPException(404, "no such job") from None


@router.get("/appointments/bulk-file/template.csv", tags=["bulk appoint"])
async def bulk_appoint_template(_user: CurrentUser) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.BULK_APPOINT_COLUMNS,
                                        [["1234567", "CA;TX", "Life & Health", "60054", "true", "false"]]),
                        "bulk_appoint_template.csv")


# -- appointments report ---------------------------------------------------------------------------------
@router.get("/appointments", tags=["appointments report"])
async def appointments_report(request: Request, _user: Annotated[User, require("appointments:view")],
                              cocode: str | None = None, status: str | None = None,
                              line_of_authority: str | None = None, state: str | None = None,
                              format: str = "json", offset: Annotated[int, Query(ge=0)] = 0,
                              limit: Annotated[int, Query(ge=1, le=1000)] = report.PAGE_SIZE) -> Any:
    """One page of the report with the total (``{total, offset, limit, items}``); ``format=csv``
    exports every matching row (streamed), in the columns the termination file accepts."""
    f = report.Filters(cocode, status, line_of_authority, state)
    if format == "csv":
        return StreamingResponse(report.export(runtime(request).db, f), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="appointments.csv"'})
    async with runtime(request).db.session() as session:
        return await report.page(session, f, offset, limit)


# -- producers -------------------------------------------------------------------------------------------
def producer_view(p: m.Producer, user: User, pii: Any) -> dict[str, Any]:
    ssn = None
    if p.ssn_encrypted and pii is not None:
        clear = pii.decrypt(p.ssn_encrypted)
        ssn = clear if user.can("pii:reveal") else mask(clear)
    return p.model_dump(mode="json", exclude={"ssn_encrypted"}) | {"ssn": ssn}


@router.get("/producers", tags=["producers"])
async def list_producers(request: Request, user: Annotated[User, require("producers:view")],
                         limit: int = 200) -> list[dict[str, Any]]:
    async with runtime(request).db.session() as session:
        rows = (await session.execute(select(m.Producer).order_by(m.Producer.last_name, m.Producer.npn)
                                      .limit(min(limit, 5000)))).scalars().all()
    return [producer_view(p, user, runtime(request).pii) for p in rows]


@router.get("/producers/{npn}", tags=["producers"])
async def get_producer(request: Request, npn: str, user: Annotated[User, require("producers:view")]) -> dict[str, Any]:
    async with runtime(request).db.session() as session:
        p = await session.scalar(select(m.Producer).where(m.Producer.npn == npn))
        if p is None:
            raise HTTPException(404, "no such producer")
        lics = (await session.execute(select(m.License).where(m.License.producer_id == p.id)
                                      .order_by(m.License.state))).scalars().all()
        assigns = (await session.execute(select(m.ProducerAssignment).where(
            m.ProducerAssignment.producer_id == p.id))).scalars().all()
    return producer_view(p, user, runtime(request).pii) | {
        "licenses": [lic.model_dump(mode="json", exclude={"producer_id"}) | {
            "lines_of_authority": [x for x in lic.lines_of_authority.split(";") if x]} for lic in lics],
        "assignments": [a.model_dump(mode="json") for a in assigns]}


@router.post("/producers/{npn}/sync", status_code=202, tags=["producers"])
async def sync_producer(request: Request, npn: str, user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    async with runtime(request).uow(actor=user.login) as tx:
        if await tx.session.scalar(select(m.Producer.id).where(m.Producer.npn == npn)) is None:
            raise HTTPException(404, "no such producer")
        await request_license_sync(tx, [npn])
    return {"npn": npn, "sync": "requested"}


# -- producer imports (bulk onboarding) ---------------------------------------------------------------------
async def _import_view(request: Request, import_id: str, kind: str) -> dict[str, Any]:
    async with runtime(request).db.session() as session:
        imp = await session.get(m.BulkImport, import_id)
        if imp is None or imp.kind != kind:
            raise HTTPException(404, "no such import")
        rows = (await session.execute(select(m.BulkImportRow).where(m.BulkImportRow.import_id == import_id)
                                      .order_by(m.BulkImportRow.line))).scalars().all()
    return imports.import_view(imp, list(rows))


@router.get("/producer-imports/template.csv", tags=["bulk onboarding"])
async def producer_template(_user: CurrentUser) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.ONBOARDING_COLUMNS, []), "agent_upload_template.csv")


@router.get("/producer-imports/accepted-values.csv", tags=["bulk onboarding"])
async def producer_accepted_values(request: Request, _user: CurrentUser) -> Response:
    async with runtime(request).db.session() as session:
        acc = await imports.accepted_values(session)
    columns = {"Agency NPN": sorted(acc.agency_npns), "LOA Category": acc.loa_categories, "States": acc.states,
               "Scorecard Type": acc.scorecard_types, "Agent Type": acc.agent_types, "CoCodes": acc.cocodes}
    depth = max(len(v) for v in columns.values())
    rows = [[(list(v)[i] if i < len(v) else "") for v in columns.values()] for i in range(depth)]
    return csv_response(rowcheck.to_csv(columns, rows), "accepted_values.csv")


@router.post("/producer-imports", status_code=201, tags=["bulk onboarding"])
async def upload_producers(request: Request, file: Annotated[UploadFile, File()],
                           user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    content = await read_upload(request, file)
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            imp = await imports.parse_producer_file(tx, file.filename or "upload.csv", content, runtime(request).pii)
    except FileError as exc:
        raise HTTPException(422, str(exc)) from None
    return await _import_view(request, imp.id, "producers")


@router.get("/producer-imports/{import_id}", tags=["bulk onboarding"])
async def get_producer_import(request: Request, import_id: str, _user: CurrentUser) -> dict[str, Any]:
    return await _import_view(request, import_id, "producers")


@router.get("/producer-imports/{import_id}/invalid-rows.csv", tags=["bulk onboarding"])
async def invalid_producer_rows(request: Request, import_id: str, _user: CurrentUser) -> Response:
    view = await _import_view(request, import_id, "producers")
    bad = [r for r in view["rows"] if not r["valid"]]
    return csv_response(rowcheck.to_csv(("Line", *rowcheck.ONBOARDING_COLUMNS, "Errors"), [
        [r["line"], *[r["values"].get(c, "") for c in rowcheck.ONBOARDING_COLUMNS], " | ".join(r["errors"])]
        for r in bad]), "invalid_rows.csv")


@router.post("/producer-imports/{import_id}/process", tags=["bulk onboarding"])
async def process_producers(request: Request, import_id: str,
                            user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            result = await imports.process_producer_import(tx, import_id)
    except LookupError:
        raise HTTPException(404, "no such import") from None
    return {"import_id": import_id, **result}


# -- termination imports ------------------------------------------------------------------------------------
@router.get("/termination-imports/template.csv", tags=["bulk terminate"])
async def termination_template(_user: CurrentUser) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.TERMINATION_COLUMNS, []), "terminate_template.csv")


@router.get("/termination-imports/termination-reason-key.csv", tags=["bulk terminate"])
async def termination_key(request: Request, _user: CurrentUser) -> Response:
    async with runtime(request).db.session() as session:
        ref = await refdata.snapshot(session)
    rows = [[st, code, desc, "yes" if ref.default_termination.get(st) == code else ""]
            for st, codes in sorted(ref.termination_codes.items()) for code, desc in sorted(codes.items())]
    return csv_response(rowcheck.to_csv(("State", "Termination Reason Code", "Description", "State default"), rows),
                        "termination_reason_key.csv")


@router.post("/termination-imports", status_code=201, tags=["bulk terminate"])
async def upload_terminations(request: Request, file: Annotated[UploadFile, File()],
                              user: Annotated[User, require("appointments:terminate")]) -> dict[str, Any]:
    content = await read_upload(request, file)
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            imp = await imports.parse_termination_file(tx, file.filename or "upload.csv", content)
    except FileError as exc:
        raise HTTPException(422, str(exc)) from None
    return await _import_view(request, imp.id, "terminations")


@router.get("/termination-imports/{import_id}/invalid-rows.csv", tags=["bulk terminate"])
async def invalid_termination_rows(request: Request, import_id: str, _user: CurrentUser) -> Response:
    view = await _import_view(request, import_id, "terminations")
    cols = rowcheck.TERMINATION_COLUMNS
    return csv_response(rowcheck.to_csv(("Line", *cols, "Errors"), [
        [r["line"], *[r["values"].get(c, "") for c in cols], " | ".join(r["errors"])]
        for r in view["rows"] if not r["valid"]]), "invalid_rows.csv")


@router.get("/termination-imports/{import_id}", tags=["bulk terminate"])
async def get_termination_import(request: Request, import_id: str, _user: CurrentUser) -> dict[str, Any]:
    return await _import_view(request, import_id, "terminations")


class TerminationSubmit(BaseModel):
    immediate: bool = False  # the default: batches wait for review
    batch_size: int = Field(500, ge=1, le=10_000)


@router.post("/termination-imports/{import_id}/submit", tags=["bulk terminate"])
async def submit_terminations(request: Request, import_id: str,
                              user: Annotated[User, require("appointments:terminate")],
                              body: Annotated[TerminationSubmit | None, Body()] = None) -> dict[str, Any]:
    body = body or TerminationSubmit()
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            result = await imports.submit_termination_import(tx, import_id, immediate=body.immediate,
                                                             batch_size=body.batch_size)
    except LookupError:
        raise HTTPException(404, "no such import") from None
    except BatchStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"import_id": import_id, **result}


# -- manual tasks ---------------------------------------------------------------------------------------------
@router.get("/manual-tasks", tags=["bulk terminate"])
async def manual_tasks(request: Request, _user: Annotated[User, require("appointments:view")],
                       status: Annotated[str | None, Query(pattern="^(open|done)$")] = "open") -> list[dict[str, Any]]:
    """Work the Gateway cannot do (a for-cause termination in a state that refuses it electronically)."""
    async with runtime(request).db.session() as session:
        return [t.model_dump(mode="json") for t in await list_tasks(session, status)]


class TaskDone(BaseModel):
    note: str | None = Field(None, max_length=1000)


@router.post("/manual-tasks/{task_id}/done", tags=["bulk terminate"])
async def manual_task_done(request: Request, task_id: str, user: Annotated[User, require("appointments:terminate")],
                           body: Annotated[TaskDone | None, Body()] = None) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            task = await complete_task(tx, task_id, body.note if body else None)
            return task.model_dump(mode="json")
    except LookupError:
        raise HTTPException(404, "no such task") from None


# -- reference data -----------------------------------------------------------------------------------------
@router.get("/reference-data/{kind}", tags=["reference data"])
async def get_reference(request: Request, kind: str, _user: CurrentUser) -> list[dict[str, Any]]:
    if kind not in refdata.KINDS:
        raise HTTPException(404, "unknown reference data kind")
    async with runtime(request).db.session() as session:
        return await refdata.listing(session, kind)


@router.get("/reference-data/{kind}/template.csv", tags=["reference data"])
async def reference_template(kind: str, _user: CurrentUser) -> Response:
    if kind not in refdata.KINDS:
        raise HTTPException(404, "unknown reference data kind")
    return csv_response(rowcheck.to_csv(refdata.KINDS[kind].columns, []), f"{kind}.csv")


@router.post("/reference-data/{kind}", status_code=201, tags=["reference data"])
async def load_reference(request: Request, kind: str, user: Annotated[User, require("reference_data:edit")],
                         file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    content = await read_upload(request, file)
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            n = await refdata.load_rows(tx, kind, refdata.parse_file(kind, content, file.filename),
                                        source_default=f"upload {file.filename} by {user.login}")
    except refdata.RefDataError as exc:
        raise HTTPException(422, {"errors": exc.errors}) from None
    return {"kind": kind, "rows_loaded": n}


@router.post("/reference-data/{kind}/rows", status_code=201, tags=["reference data"])
async def add_reference_rows(request: Request, kind: str, user: Annotated[User, require("reference_data:edit")],
                             rows: Annotated[list[dict[str, str]], Body()]) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            n = await refdata.load_rows(tx, kind, [{k.lower(): str(v) for k, v in r.items()} for r in rows])
    except refdata.RefDataError as exc:
        raise HTTPException(422, {"errors": exc.errors}) from None
    return {"kind": kind, "rows_loaded": n}


# -- portals --------------------------------------------------------------------------------------------
@router.get("/portals", tags=["portals"])
async def list_portals(request: Request, _user: CurrentUser) -> list[dict[str, Any]]:
    async with runtime(request).db.session() as session:
        return [p.model_dump(mode="json") for p in (await session.execute(select(m.Portal))).scalars()]


class InviteBody(BaseModel):
    portal_id: str
    producer_ids: list[str] = Field(min_length=1, max_length=5000)


@router.post("/portal-invites", tags=["portals"])
async def invite_route(request: Request, body: InviteBody,
                       user: Annotated[User, require("portals:invite")]) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            return await portals.invite(tx, body.portal_id, body.producer_ids)
    except LookupError:
        raise HTTPException(404, "no such portal") from None
