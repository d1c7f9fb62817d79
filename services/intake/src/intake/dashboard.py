"""intake's dashboard pages."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any

from agency_common.tabular import TooLarge
from agency_common.web import DashboardUser, render
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from intake.carriers.registry import carrier_names
from intake.domain.mapping import BILL_TYPES, DEFAULT_ALIASES, DEFAULT_BILL_TYPES, FIELD_LABELS, FIELDS
from intake.domain.new_policies import plan_policy
from intake.imports import DuplicateStatement, publish_statement, rematch
from intake.models import (
    CarrierProfile,
    CreatePoliciesJob,
    Policy,
    PolicySession,
    PolicyUpdateAudit,
    Statement,
    StatementLineRow,
)
from intake.usecases import (
    POLICY_DEFAULT_FIELDS,
    CreatePoliciesRequest,
    NewPolicy,
    ProfileIn,
    UpdateByCarrierRequest,
    UseCaseError,
    audit_json,
    create_policy,
    list_sessions,
    save_profile,
    update_policies_by_carrier,
)

router = APIRouter(include_in_schema=False)
LINES = StatementLineRow.__table__
PAGE = 100


def rate_input(rate: Any) -> str:
    """A stored rate as an operator types it: 0.125 → "12.5%"."""
    if rate is None:
        return ""
    text = f"{rate * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _denied(request: Request, permission: str) -> HTMLResponse:
    return render(request, "intake_message.html", status_code=403,
                  message=f"You do not have the {permission} permission.")


# -- book of business ---------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: DashboardUser, error: str | None = None,
               values: dict[str, str] | None = None) -> HTMLResponse:
    runtime = request.app.state.runtime
    async with runtime.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Policy))
        recent = (await session.execute(select(Policy).order_by(Policy.created_at.desc()).limit(50))).scalars().all()
        carriers = await carrier_names(session)
    return render(request, "intake_home.html", total=total, policies=recent, error=error, carriers=carriers,
                  values=values or {}, can_create=user.can("policies:create"))


@router.post("/policies")
async def create_policy_form(
    request: Request,
    user: DashboardUser,
    carrier: Annotated[str, Form()],
    policy_number: Annotated[str, Form()],
    client_name: Annotated[str, Form()],
    line_of_business: Annotated[str, Form()] = "",
) -> Response:
    runtime = request.app.state.runtime
    if not user.can("policies:create"):
        return await home(request, user, error="You do not have the policies:create permission.")
    try:
        data = NewPolicy(carrier=carrier, policy_number=policy_number, client_name=client_name,
                         line_of_business=line_of_business or None)
        async with runtime.uow(actor=user.login) as tx:
            await create_policy(tx, data)
    except (ValidationError, UseCaseError) as exc:
        return await home(request, user, error=str(exc), values={"carrier": carrier, "policy_number": policy_number,
                                                                 "client_name": client_name,
                                                                 "line_of_business": line_of_business})
    return RedirectResponse("/", status_code=303)


# -- statements ---------------------------------------------------------------------------------------
@router.get("/statements", response_class=HTMLResponse)
async def statements_page(request: Request, user: DashboardUser, error: str | None = None,
                          first_import: str | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
    if not user.can("statements:view"):
        return _denied(request, "statements:view")
    async with request.app.state.runtime.db.session() as session:
        rows = (await session.execute(select(Statement).order_by(Statement.created_at.desc()).limit(100))).scalars().all()
        carriers = await carrier_names(session)
    return render(request, "intake_statements.html", statements=rows, carriers=carriers, error=error,
                  values=values or {},
                  first_import=first_import, can_import=user.can("statements:import"))


@router.post("/statements")
async def upload_form(request: Request, user: DashboardUser, file: Annotated[UploadFile, File()],
                      carrier: Annotated[str, Form()], sheet: Annotated[str, Form()] = "",
                      override: Annotated[bool, Form()] = False) -> Response:
    if not user.can("statements:import"):
        return _denied(request, "statements:import")
    try:
        st = await request.app.state.imports.store_upload(file, file.filename or "statement", carrier, user.login,
                                                          sheet=sheet or None, override=override)
    except DuplicateStatement as exc:
        return await statements_page(request, user, error=str(exc), first_import=exc.first_id,
                                     values={"carrier": carrier})
    except (TooLarge, UseCaseError) as exc:
        return await statements_page(request, user, error=str(exc), values={"carrier": carrier})
    return RedirectResponse(f"/statements/{st.id}", status_code=303)


@router.get("/statements/{statement_id}", response_class=HTMLResponse)
async def statement_page(request: Request, statement_id: str, user: DashboardUser, validity: str = "",
                         match: str = "", page: int = 1, error: str | None = None) -> HTMLResponse:
    if not user.can("statements:view"):
        return _denied(request, "statements:view")
    from intake.api import line_conditions, line_json

    page = max(page, 1)
    async with request.app.state.runtime.db.session() as session:
        st = await session.get(Statement, statement_id)
        if st is None:
            raise HTTPException(404, "no such statement")
        conds = line_conditions(statement_id, validity or None, match or None)
        total = await session.scalar(select(func.count()).select_from(LINES).where(*conds))
        rows = (await session.execute(select(LINES).where(*conds).order_by(LINES.c.line_no).limit(PAGE)
                                      .offset((page - 1) * PAGE))).mappings().all()
        jobs = (await session.execute(select(CreatePoliciesJob).where(CreatePoliciesJob.statement_id == statement_id)
                                      .order_by(CreatePoliciesJob.created_at.desc()).limit(10))).scalars().all()
    policy_jobs = request.app.state.policy_jobs
    return render(request, "intake_statement.html", st=st, lines=[line_json(r) for r in rows], total=total,
                  jobs=[policy_jobs.json(j) for j in jobs],
                  validity=validity, match=match, page=page, pages=max(1, -(-(total or 0) // PAGE)), error=error,
                  can_import=user.can("statements:import"), can_create=user.can("policies:create"),
                  running=st.status in ("queued", "processing", "receiving")
                  or any(j.status in ("queued", "running") for j in jobs))


@router.post("/statements/{statement_id}/rematch")
async def rematch_form(request: Request, statement_id: str, user: DashboardUser) -> Response:
    if not user.can("statements:import"):
        return _denied(request, "statements:import")
    async with request.app.state.runtime.uow(actor=user.login) as tx:
        st = await tx.session.get(Statement, statement_id)
        if st is not None and st.status == "imported":
            await rematch(tx.session, statement_id, st.carrier)
    return RedirectResponse(f"/statements/{statement_id}", status_code=303)


@router.post("/statements/{statement_id}/publish")
async def publish_form(request: Request, statement_id: str, user: DashboardUser,
                       exclude_unmatched: Annotated[bool, Form()] = False) -> Response:
    if not user.can("statements:import"):
        return _denied(request, "statements:import")
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            await publish_statement(tx, statement_id, exclude_unmatched)
    except UseCaseError as exc:
        return await statement_page(request, statement_id, user, error=str(exc))
    return RedirectResponse(f"/statements/{statement_id}", status_code=303)


@router.get("/statements/{statement_id}/create-policies", response_class=HTMLResponse)
async def create_policies_page(request: Request, statement_id: str, user: DashboardUser,
                               error: str | None = None) -> HTMLResponse:
    if not user.can("policies:create"):
        return _denied(request, "policies:create")
    async with request.app.state.runtime.db.session() as session:
        st = await session.get(Statement, statement_id)
        if st is None:
            raise HTTPException(404, "no such statement")
        total = await session.scalar(select(func.count()).select_from(LINES).where(
            LINES.c.statement_id == statement_id, LINES.c.valid.is_(True), LINES.c.match_status == "unmatched"))
        rows = (await session.execute(select(LINES).where(
            LINES.c.statement_id == statement_id, LINES.c.valid.is_(True), LINES.c.match_status == "unmatched")
            .order_by(LINES.c.line_no).limit(200))).mappings().all()
    # what each line becomes on its own (the same rule as the creation; overrides not yet typed)
    plans = [plan_policy([r]) for r in rows]
    return render(request, "intake_create_policies.html", st=st, lines=list(zip(rows, plans, strict=True)),
                  total=total, error=error, idempotency_key=str(uuid.uuid4()), default_fields=POLICY_DEFAULT_FIELDS)


@router.post("/statements/{statement_id}/create-policies")
async def create_policies_form(request: Request, statement_id: str, user: DashboardUser) -> Response:
    if not user.can("policies:create"):
        return _denied(request, "policies:create")
    form = await request.form()
    defaults = {k: str(form.get(k) or "").strip() or None for k in POLICY_DEFAULT_FIELDS}
    overrides: dict[int, dict[str, Any]] = {}
    for key, value in form.multi_items():
        if key.startswith("ov_") and str(value).strip():
            _, line_no, name = key.split("_", 2)
            overrides.setdefault(int(line_no), {})[name] = str(value).strip()
    try:
        req = CreatePoliciesRequest(idempotency_key=str(form.get("idempotency_key") or uuid.uuid4()),
                                    defaults=defaults, overrides=overrides)
        result = await request.app.state.policy_jobs.submit(statement_id, req, user.login)
    except (ValidationError, UseCaseError) as exc:
        return await create_policies_page(request, statement_id, user, error=str(exc))
    if "job" in result:
        return RedirectResponse(result["job"]["page"], status_code=303)
    return RedirectResponse(f"/policy-sessions/{result['session'].id}", status_code=303)


@router.get("/create-policies-jobs/{job_id}", response_class=HTMLResponse)
async def create_policies_job_page(request: Request, job_id: str, user: DashboardUser) -> HTMLResponse:
    if not user.can("policies:view"):
        return _denied(request, "policies:view")
    try:
        job = await request.app.state.policy_jobs.get(job_id)
    except UseCaseError:
        raise HTTPException(404, "no such job") from None
    async with request.app.state.runtime.db.session() as session:
        st = await session.get(Statement, job["statement_id"])
    return render(request, "intake_create_policies_job.html", job=job, st=st)


# -- sessions -----------------------------------------------------------------------------------------
@router.get("/policy-sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, user: DashboardUser,
                        date_from: str = "", date_to: str = "", sort: str = "-date", page: int = 1,
                        login: str = "") -> HTMLResponse:
    if not user.can("policies:view"):
        return _denied(request, "policies:view")
    page = max(page, 1)
    error = None
    try:
        df = date.fromisoformat(date_from) if date_from else None
        dt = date.fromisoformat(date_to) if date_to else None
        async with request.app.state.runtime.db.session() as session:
            total, rows = await list_sessions(session, user=login or None, date_from=df, date_to=dt, sort=sort,
                                              limit=50, offset=(page - 1) * 50)
    except (ValueError, UseCaseError) as exc:
        total, rows, error = 0, [], str(exc)
    return render(request, "intake_sessions.html", sessions=rows, total=total, login=login, date_from=date_from,
                  date_to=date_to, sort=sort, page=page, pages=max(1, -(-total // 50)), error=error)


@router.get("/policy-sessions/{session_id}", response_class=HTMLResponse)
async def session_page(request: Request, session_id: str, user: DashboardUser) -> HTMLResponse:
    if not user.can("policies:view"):
        return _denied(request, "policies:view")
    from intake.api import session_policies

    s, rows = await session_policies(request, session_id)
    return render(request, "intake_session.html", s=s, policies=rows, defaults=json.loads(s.defaults))


# -- Update Policies (by Carrier) -------------------------------------------------------------------
UPDATE_FILTERS = ("carrier", "session_id", "line_of_business", "status", "policy_number", "client_name",
                  "effective_from", "effective_to")


@router.get("/policies/update", response_class=HTMLResponse)
async def update_page(request: Request, user: DashboardUser, message: str | None = None, error: str | None = None,
                      values: dict[str, str] | None = None) -> HTMLResponse:
    if not user.can("policies:view"):
        return _denied(request, "policies:view")
    async with request.app.state.runtime.db.session() as session:
        audits = (await session.execute(select(PolicyUpdateAudit).order_by(PolicyUpdateAudit.updated_at.desc())
                                        .limit(50))).scalars().all()
        sessions = (await session.execute(select(PolicySession).order_by(PolicySession.number.desc()).limit(100))).scalars().all()
        carriers = await carrier_names(session, active_only=False)
    return render(request, "intake_update.html", audits=[audit_json(a) for a in audits], sessions=sessions,
                  carriers=carriers,
                  filters=UPDATE_FILTERS, changes=POLICY_DEFAULT_FIELDS, values=values or dict(request.query_params),
                  message=message, error=error, can_edit=user.can("policies:edit"))


@router.post("/policies/update")
async def update_form(request: Request, user: DashboardUser) -> Response:
    if not user.can("policies:edit"):
        return _denied(request, "policies:edit")
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    try:
        req = UpdateByCarrierRequest(
            filter={k[2:]: v for k, v in form.items() if k.startswith("f_") and v},
            changes={k[2:]: v for k, v in form.items() if k.startswith("c_") and v})
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            audit = await update_policies_by_carrier(tx, req)
    except (ValidationError, UseCaseError) as exc:
        return await update_page(request, user, error=str(exc), values=form)
    return await update_page(request, user, message=f"{audit.count} policies updated.", values=form)


# -- carrier profiles ---------------------------------------------------------------------------------
@router.get("/carrier-profiles", response_class=HTMLResponse)
async def profiles_page(request: Request, user: DashboardUser, carrier: str = "", message: str | None = None,
                        error: str | None = None) -> HTMLResponse:
    if not user.can("statements:view"):
        return _denied(request, "statements:view")
    async with request.app.state.runtime.db.session() as session:
        profiles = (await session.execute(select(CarrierProfile).order_by(CarrierProfile.carrier))).scalars().all()
        current = await session.get(CarrierProfile, carrier) if carrier else None
        carriers = await carrier_names(session, active_only=False)
    return render(request, "intake_profiles.html", profiles=profiles, carrier=carrier, carriers=carriers,
                  columns=json.loads(current.columns) if current else {},
                  bill_types="\n".join(f"{k}={v}" for k, v in json.loads(current.bill_types).items()) if current else "",
                  prefixes=", ".join(json.loads(current.prefixes)) if current else "",
                  sheet=current.sheet if current else "", fields=FIELDS, labels=FIELD_LABELS,
                  default_rate=rate_input(current.default_commission_rate if current else None),
                  aliases=DEFAULT_ALIASES, default_bill_types=DEFAULT_BILL_TYPES, bill_type_values=BILL_TYPES,
                  message=message, error=error, can_edit=user.can("statements:import"))


@router.post("/carrier-profiles")
async def profile_form(request: Request, user: DashboardUser) -> Response:
    if not user.can("statements:import"):
        return _denied(request, "statements:import")
    form = {k: str(v) for k, v in (await request.form()).items()}
    carrier = form.get("carrier", "").strip()
    try:
        bill_types = {}
        for line in form.get("bill_types", "").splitlines():
            if line.strip():
                code, sep, bill_type = line.partition("=")
                if not sep:
                    raise UseCaseError(f"bill type mapping {line.strip()!r} is not CODE=bill_type")
                bill_types[code.strip()] = bill_type.strip()
        data = ProfileIn(columns={f: form.get(f"col_{f}", "") for f in FIELDS}, bill_types=bill_types,
                         prefixes=[p for p in form.get("prefixes", "").split(",")], sheet=form.get("sheet") or None,
                         default_commission_rate=form.get("default_commission_rate") or None)
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            await save_profile(tx, carrier, data)
    except (ValidationError, UseCaseError) as exc:
        return await profiles_page(request, user, carrier=carrier, error=str(exc))
    return await profiles_page(request, user, carrier=carrier, message=f"Profile of {carrier} saved.")
