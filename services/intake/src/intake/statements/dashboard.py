"""The statements pages: the list and upload, one statement's lines, re-match and publish,
and the carrier profiles."""

from __future__ import annotations

import json
from typing import Annotated, Any, Protocol

from agency_common.auth import User
from agency_common.tabular import TooLarge
from agency_common.web import page_permission, render
from agency_common.web.deps import Runtime
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from intake.carriers.registry import carrier_names
from intake.errors import NotFound, UseCaseError
from intake.models import CarrierProfile, CreatePoliciesJob, Statement, StatementLineRow
from intake.statements.book import rematch
from intake.statements.domain.mapping import (
    BILL_TYPES,
    DEFAULT_ALIASES,
    DEFAULT_BILL_TYPES,
    FIELD_LABELS,
    FIELDS,
)
from intake.statements.imports import DuplicateStatement, Imports
from intake.statements.publishing import publish_statement
from intake.statements.queries import line_conditions
from intake.statements.schemas import ProfileIn, line_json
from intake.statements.usecases import save_profile
from intake.web import POLICY_JOBS, app_object

router = APIRouter(include_in_schema=False)
LINES = StatementLineRow.__table__
PAGE = 100
Viewer = Annotated[User, page_permission("statements:view")]
Importer = Annotated[User, page_permission("statements:import")]


class PolicyJobsView(Protocol):
    """policy_sessions' Create Policies jobs as the statement page shows them (with their live progress):
    a higher capability, so described here rather than imported."""

    def json(self, job: CreatePoliciesJob) -> dict[str, Any]: ...


PolicyJobs = Annotated[PolicyJobsView, app_object(POLICY_JOBS)]


def rate_input(rate: Any) -> str:
    """A stored rate as an operator types it: 0.125 → "12.5%"."""
    if rate is None:
        return ""
    text = f"{rate * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


@router.get("/statements", response_class=HTMLResponse)
async def statements_page(request: Request, runtime: Runtime, user: Viewer, error: str | None = None,
                          first_import: str | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
    async with runtime.db.session() as session:
        rows = (await session.execute(select(Statement).order_by(Statement.created_at.desc()).limit(100))).scalars().all()
        carriers = await carrier_names(session)
    return render(request, "intake_statements.html", statements=rows, carriers=carriers, error=error,
                  values=values or {},
                  first_import=first_import, can_import=user.can("statements:import"))


@router.post("/statements")
async def upload_form(request: Request, runtime: Runtime, imports: Imports, user: Importer,
                      file: Annotated[UploadFile, File()], carrier: Annotated[str, Form()],
                      sheet: Annotated[str, Form()] = "", override: Annotated[bool, Form()] = False) -> Response:
    try:
        st = await imports.store_upload(file, file.filename or "statement", carrier, user.login,
                                        sheet=sheet or None, override=override)
    except DuplicateStatement as exc:
        return await statements_page(request, runtime, user, error=str(exc), first_import=exc.first_id,
                                     values={"carrier": carrier})
    except (TooLarge, UseCaseError) as exc:
        return await statements_page(request, runtime, user, error=str(exc), values={"carrier": carrier})
    return RedirectResponse(f"/statements/{st.id}", status_code=303)


@router.get("/statements/{statement_id}", response_class=HTMLResponse)
async def statement_page(request: Request, runtime: Runtime, policy_jobs: PolicyJobs, statement_id: str,
                         user: Viewer, validity: str = "", match: str = "", page: int = 1,
                         error: str | None = None) -> HTMLResponse:
    page = max(page, 1)
    async with runtime.db.session() as session:
        st = await session.get(Statement, statement_id)
        if st is None:
            raise NotFound("no such statement")
        conds = line_conditions(statement_id, validity or None, match or None)
        total = await session.scalar(select(func.count()).select_from(LINES).where(*conds))
        rows = (await session.execute(select(LINES).where(*conds).order_by(LINES.c.line_no).limit(PAGE)
                                      .offset((page - 1) * PAGE))).mappings().all()
        jobs = (await session.execute(select(CreatePoliciesJob).where(CreatePoliciesJob.statement_id == statement_id)
                                      .order_by(CreatePoliciesJob.created_at.desc()).limit(10))).scalars().all()
    return render(request, "intake_statement.html", st=st, lines=[line_json(r) for r in rows], total=total,
                  jobs=[policy_jobs.json(j) for j in jobs],
                  validity=validity, match=match, page=page, pages=max(1, -(-(total or 0) // PAGE)), error=error,
                  can_import=user.can("statements:import"), can_create=user.can("policies:create"),
                  running=st.status in ("queued", "processing", "receiving")
                  or any(j.status in ("queued", "running") for j in jobs))


@router.post("/statements/{statement_id}/rematch")
async def rematch_form(runtime: Runtime, statement_id: str, user: Importer) -> Response:
    async with runtime.uow(actor=user.login) as tx:
        st = await tx.session.get(Statement, statement_id)
        if st is not None and st.status == "imported":
            await rematch(tx.session, statement_id, st.carrier)
    return RedirectResponse(f"/statements/{statement_id}", status_code=303)


@router.post("/statements/{statement_id}/publish")
async def publish_form(request: Request, runtime: Runtime, policy_jobs: PolicyJobs, statement_id: str,
                       user: Importer, exclude_unmatched: Annotated[bool, Form()] = False) -> Response:
    try:
        async with runtime.uow(actor=user.login) as tx:
            await publish_statement(tx, statement_id, exclude_unmatched)
    except UseCaseError as exc:
        return await statement_page(request, runtime, policy_jobs, statement_id, user, error=str(exc))
    return RedirectResponse(f"/statements/{statement_id}", status_code=303)


@router.get("/carrier-profiles", response_class=HTMLResponse)
async def profiles_page(request: Request, runtime: Runtime, user: Viewer, carrier: str = "",
                        message: str | None = None, error: str | None = None) -> HTMLResponse:
    async with runtime.db.session() as session:
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
async def profile_form(request: Request, runtime: Runtime, user: Importer) -> Response:
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
        async with runtime.uow(actor=user.login) as tx:
            await save_profile(tx, carrier, data)
    except (ValidationError, UseCaseError) as exc:
        return await profiles_page(request, runtime, user, carrier=carrier, error=str(exc))
    return await profiles_page(request, runtime, user, carrier=carrier, message=f"Profile of {carrier} saved.")
