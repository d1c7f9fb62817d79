"""intake's JSON API. Routes only translate HTTP to use cases."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.tabular import TooLarge, csv_bytes
from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from intake.carriers.registry import canonical_name
from intake.imports import DuplicateStatement, error_rows, publish_statement, rematch, statement_json
from intake.models import (
    CarrierProfile,
    Policy,
    PolicySession,
    PolicyUpdateAudit,
    Statement,
    StatementLineRow,
)
from intake.usecases import (
    CreatePoliciesRequest,
    NewPolicy,
    ProfileIn,
    UpdateByCarrierRequest,
    UseCaseError,
    audit_json,
    create_policy,
    list_sessions,
    policy_json,
    policy_terms,
    profile_json,
    save_profile,
    session_json,
    update_policies_by_carrier,
)

router = APIRouter(prefix="/api", tags=["intake"])
LINES = StatementLineRow.__table__


def fail(exc: UseCaseError) -> HTTPException:
    return HTTPException(exc.status_code, str(exc))


# -- policies ---------------------------------------------------------------------------------------
@router.post("/policies", status_code=201)
async def create_policy_route(
    request: Request, body: NewPolicy, user: Annotated[User, require("policies:create")]
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    try:
        async with runtime.uow(actor=user.login) as tx:
            policy = await create_policy(tx, body)
    except UseCaseError as exc:
        raise fail(exc) from None
    return policy_json(policy)


@router.get("/policies")
async def list_policies(
    request: Request,
    _user: Annotated[User, require("policies:view")],
    carrier: str | None = None,
    session_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    conds = []
    if session_id:
        conds.append(Policy.session_id == session_id)
    async with runtime.db.session() as session:
        if carrier:
            conds.append(Policy.carrier == await canonical_name(session, carrier))
        total = await session.scalar(select(func.count()).select_from(Policy).where(*conds))
        rows = (await session.execute(select(Policy).where(*conds).order_by(Policy.created_at.desc(), Policy.id)
                                      .limit(limit).offset(offset))).scalars()
        items = [policy_json(p) for p in rows]
    return {"total": total, "items": items}


@router.get("/policies/{policy_id}")
async def get_policy(request: Request, policy_id: str, _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    """The policy (its current term's dates and totals) and every one of its terms."""
    async with request.app.state.runtime.db.session() as session:
        policy = await session.get(Policy, policy_id)
        if policy is None:
            raise HTTPException(404, "no such policy")
        terms = await policy_terms(session, policy_id)
    return policy_json(policy) | {"terms": terms}


@router.post("/policies/update-by-carrier")
async def update_by_carrier(request: Request, body: UpdateByCarrierRequest,
                            user: Annotated[User, require("policies:edit")]) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            audit = await update_policies_by_carrier(tx, body)
    except UseCaseError as exc:
        raise fail(exc) from None
    return audit_json(audit)


@router.get("/policy-update-audits")
async def list_update_audits(request: Request, _user: Annotated[User, require("policies:view")],
                             carrier: str | None = None) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as session:
        stmt = select(PolicyUpdateAudit).order_by(PolicyUpdateAudit.updated_at.desc()).limit(200)
        if carrier:
            stmt = stmt.where(PolicyUpdateAudit.carrier == await canonical_name(session, carrier))
        rows = (await session.execute(stmt)).scalars().all()
    return {"items": [audit_json(a) for a in rows]}


# -- carrier profiles -------------------------------------------------------------------------------
@router.get("/carrier-profiles/{carrier}")
async def get_profile(request: Request, carrier: str, _user: Annotated[User, require("statements:view")]) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as session:
        return profile_json(carrier, await session.get(CarrierProfile, carrier))


@router.put("/carrier-profiles/{carrier}")
async def put_profile(request: Request, carrier: str, body: ProfileIn,
                      user: Annotated[User, require("statements:import")]) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            row = await save_profile(tx, carrier, body)
    except UseCaseError as exc:
        raise fail(exc) from None
    return profile_json(carrier, row)


# -- statements -------------------------------------------------------------------------------------
@router.post("/statements", status_code=202)
async def upload_statement(
    request: Request,
    user: Annotated[User, require("statements:import")],
    file: Annotated[UploadFile, File(description="CSV (comma, semicolon or tab) or XLSX")],
    carrier: Annotated[str, Form()],
    sheet: Annotated[str | None, Form()] = None,
    override: Annotated[bool, Form(description="re-import a file already imported for this carrier")] = False,
) -> JSONResponse:
    imports = request.app.state.imports
    try:
        st = await imports.store_upload(file, file.filename or "statement", carrier, user.login,
                                        sheet=sheet, override=override)
    except DuplicateStatement as exc:
        return JSONResponse({"detail": str(exc), "first_import_id": exc.first_id}, status_code=409)
    except TooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except UseCaseError as exc:
        raise fail(exc) from None
    return JSONResponse(statement_json(st), status_code=202,
                        headers={"Location": f"/api/statements/{st.id}"})


@router.get("/statements")
async def list_statements(request: Request, _user: Annotated[User, require("statements:view")],
                          carrier: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                          offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as session:
        conds = [Statement.carrier == carrier] if carrier else []
        total = await session.scalar(select(func.count()).select_from(Statement).where(*conds))
        rows = (await session.execute(select(Statement).where(*conds).order_by(Statement.created_at.desc())
                                      .limit(limit).offset(offset))).scalars().all()
    return {"total": total, "items": [statement_json(s) for s in rows]}


async def _statement(request: Request, statement_id: str) -> Statement:
    async with request.app.state.runtime.db.session() as session:
        st = await session.get(Statement, statement_id)
    if st is None:
        raise HTTPException(404, "no such statement")
    return st


@router.get("/statements/{statement_id}")
async def get_statement(request: Request, statement_id: str,
                        _user: Annotated[User, require("statements:view")]) -> dict[str, Any]:
    return statement_json(await _statement(request, statement_id))


def line_json(r: Any) -> dict[str, Any]:
    return {
        "line_no": r["line_no"], "valid": r["valid"], "errors": json.loads(r["errors"] or "[]"),
        "raw": json.loads(r["raw"]) if r["raw"] else None, "policy_number": r["policy_number"], "insured_name": r["insured_name"],
        "transaction_type": r["transaction_type"], "bill_type": r["bill_type"],
        "effective_date": r["effective_date"].isoformat() if r["effective_date"] else None,
        "expiration_date": r["expiration_date"].isoformat() if r["expiration_date"] else None,
        "line_of_business": r["line_of_business"],
        "premium": str(r["premium"]) if r["premium"] is not None else None,
        "commission_rate": str(r["commission_rate"]) if r["commission_rate"] is not None else None,
        "commission_amount": str(r["commission_amount"]) if r["commission_amount"] is not None else None,
        "producer_code": r["producer_code"], "match_status": r["match_status"], "match_reason": r["match_reason"],
        "policy_id": r["policy_id"], "excluded": r["excluded"],
    }


def line_conditions(statement_id: str, validity: str | None, match: str | None) -> list[Any]:
    conds = [LINES.c.statement_id == statement_id]
    if validity == "valid":
        conds.append(LINES.c.valid.is_(True))
    elif validity == "invalid":
        conds.append(LINES.c.valid.is_(False))
    if match:
        conds.append(LINES.c.match_status == match)
    return conds


@router.get("/statements/{statement_id}/lines")
async def statement_lines(
    request: Request, statement_id: str, _user: Annotated[User, require("statements:view")],
    validity: Annotated[str | None, Query(pattern="^(valid|invalid)$")] = None,
    match: Annotated[str | None, Query(pattern="^(matched|unmatched|ambiguous)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    await _statement(request, statement_id)
    conds = line_conditions(statement_id, validity, match)
    async with request.app.state.runtime.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(LINES).where(*conds))
        rows = (await session.execute(select(LINES).where(*conds).order_by(LINES.c.line_no).limit(limit)
                                      .offset(offset))).mappings().all()
    return {"total": total, "items": [line_json(r) for r in rows]}


async def errors_csv_response(request: Request, st: Statement) -> StreamingResponse:
    async with request.app.state.runtime.db.session() as session:
        rows = (await session.execute(select(LINES.c.line_no, LINES.c.raw, LINES.c.errors).where(
            LINES.c.statement_id == st.id, LINES.c.valid.is_(False)).order_by(LINES.c.line_no))).mappings().all()
    header = [h if h.strip() else f"column {i + 1}" for i, h in enumerate(json.loads(st.header or "[]"))]
    body = error_rows(header, [dict(r) for r in rows])
    name = f"{st.file_name.rsplit('.', 1)[0]}-errors.csv".replace('"', "")
    return StreamingResponse(csv_bytes([*header, "Error line", "Error reasons"], body), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/statements/{statement_id}/errors.csv")
async def statement_errors_csv(request: Request, statement_id: str,
                               _user: Annotated[User, require("statements:view")]) -> StreamingResponse:
    return await errors_csv_response(request, await _statement(request, statement_id))


@router.get("/statements/{statement_id}/file")
async def statement_file(request: Request, statement_id: str,
                         _user: Annotated[User, require("statements:view")]) -> FileResponse:
    st = await _statement(request, statement_id)
    if not st.stored_path:
        raise HTTPException(404, "this statement came from a feed: there is no file")
    return FileResponse(st.stored_path, filename=st.file_name, media_type="application/octet-stream")


@router.post("/statements/{statement_id}/rematch")
async def rematch_statement(request: Request, statement_id: str,
                            user: Annotated[User, require("statements:import")]) -> dict[str, Any]:
    st = await _statement(request, statement_id)
    if st.status != "imported":
        raise HTTPException(409, f"statement is {st.status}")
    async with request.app.state.runtime.uow(actor=user.login) as tx:
        await rematch(tx.session, statement_id, st.carrier)
    return statement_json(await _statement(request, statement_id))


@router.post("/statements/{statement_id}/create-policies", status_code=201, responses={
    200: {"description": "the session this idempotency key already created"},
    202: {"description": "a large statement: a background job (poll `job.url`)"}})
async def create_policies_route(request: Request, statement_id: str, body: CreatePoliciesRequest,
                                user: Annotated[User, require("policies:create")]) -> JSONResponse:
    """The session `id` and `count` (201; 200 when the idempotency key already made it). Above
    `create_policies_background_threshold` unmatched lines: 202 with `job` (`status`, `done` of
    `total`, `session_id` when done) at `/api/create-policies-jobs/{job id}`."""
    try:
        result = await request.app.state.policy_jobs.submit(statement_id, body, user.login)
    except UseCaseError as exc:
        raise fail(exc) from None
    if "job" in result:
        job = result["job"]
        return JSONResponse({"background": True, "job": job}, status_code=202, headers={"Location": job["url"]})
    created = result["created"]
    return JSONResponse(session_json(result["session"]) | {"created": created}, status_code=201 if created else 200)


@router.get("/create-policies-jobs/{job_id}")
async def create_policies_job(request: Request, job_id: str,
                              _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    try:
        return await request.app.state.policy_jobs.get(job_id)
    except UseCaseError as exc:
        raise fail(exc) from None


class PublishRequest(BaseModel):
    exclude_unmatched: bool = False


@router.post("/statements/{statement_id}/publish")
async def publish_route(request: Request, statement_id: str, body: PublishRequest,
                        user: Annotated[User, require("statements:import")]) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            st = await publish_statement(tx, statement_id, body.exclude_unmatched)
    except UseCaseError as exc:
        raise fail(exc) from None
    return statement_json(st)


# -- Create Policy sessions ---------------------------------------------------------------------------
@router.get("/policy-sessions")
async def policy_sessions(
    request: Request, _user: Annotated[User, require("policies:view")],
    user: str | None = None, date_from: date | None = None, date_to: date | None = None,
    sort: Annotated[str, Query(description="date, user, count or number; prefix - for descending")] = "-date",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.db.session() as session:
            total, rows = await list_sessions(session, user=user, date_from=date_from, date_to=date_to, sort=sort,
                                              limit=limit, offset=offset)
    except UseCaseError as exc:
        raise fail(exc) from None
    return {"total": total, "limit": limit, "offset": offset, "items": [session_json(s) for s in rows]}


PREVIEW_COLUMNS = ("client_name", "policy_number", "line_of_business", "status", "effective_date")


async def session_policies(request: Request, session_id: str) -> tuple[PolicySession, list[dict[str, Any]]]:
    async with request.app.state.runtime.db.session() as session:
        s = await session.get(PolicySession, session_id)
        if s is None:
            raise HTTPException(404, "no such session")
        p = Policy.__table__.c
        rows = (await session.execute(select(p.id, p.client_name, p.policy_number, p.line_of_business, p.status,
                                             p.effective_date).where(p.session_id == session_id)
                                      .order_by(p.client_name, p.policy_number))).mappings().all()
    return s, [dict(r) for r in rows]


@router.get("/policy-sessions/{session_id}")
async def policy_session(request: Request, session_id: str,
                         _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    s, rows = await session_policies(request, session_id)
    return session_json(s) | {"policies": [
        {"policy_id": r["id"], "client_name": r["client_name"], "policy_number": r["policy_number"],
         "policy_type": r["line_of_business"], "status": r["status"],
         "effective_date": r["effective_date"].isoformat() if r["effective_date"] else None} for r in rows]}


@router.get("/policy-sessions/{session_id}/policies.csv")
async def policy_session_csv(request: Request, session_id: str,
                             _user: Annotated[User, require("policies:view")]) -> StreamingResponse:
    s, rows = await session_policies(request, session_id)
    body = ([r["client_name"], r["policy_number"], r["line_of_business"] or "", r["status"] or "",
             r["effective_date"].isoformat() if r["effective_date"] else ""] for r in rows)
    return StreamingResponse(
        csv_bytes(["Client", "Policy number", "Policy type", "Status", "Effective date"], body),
        media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="session-{s.number}.csv"'})
