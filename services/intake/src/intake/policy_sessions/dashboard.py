"""The Create Policies pages: the plan of a statement's unmatched lines, the job, the sessions."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any

from agency_common.auth import User
from agency_common.listing import Page
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from intake.errors import NotFound, UseCaseError
from intake.models import Statement, StatementLineRow
from intake.policies.schemas import POLICY_DEFAULT_FIELDS
from intake.policy_sessions.domain.new_policies import plan_policy
from intake.policy_sessions.jobs import Jobs
from intake.policy_sessions.queries import list_sessions, session_policies
from intake.policy_sessions.schemas import CreatePoliciesRequest
from intake.policy_sessions.undo import undo_dry_run, undo_session

router = APIRouter(include_in_schema=False)
LINES = StatementLineRow.__table__
Viewer = Annotated[User, page_permission("policies:view")]
Creator = Annotated[User, page_permission("policies:create")]


@router.get("/statements/{statement_id}/create-policies", response_class=HTMLResponse)
async def create_policies_page(request: Request, runtime: Runtime, statement_id: str, user: Creator,
                               error: str | None = None) -> HTMLResponse:
    async with runtime.db.session() as session:
        st = await session.get(Statement, statement_id)
        if st is None:
            raise NotFound("no such statement")
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
async def create_policies_form(request: Request, runtime: Runtime, jobs: Jobs, statement_id: str,
                               user: Creator) -> Response:
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
        result = await jobs.submit(statement_id, req, user.login)
    except (ValidationError, UseCaseError) as exc:
        return await create_policies_page(request, runtime, statement_id, user, error=str(exc))
    if "job" in result:
        return RedirectResponse(result["job"]["page"], status_code=303)
    return RedirectResponse(f"/policy-sessions/{result['session'].id}", status_code=303)


@router.get("/create-policies-jobs/{job_id}", response_class=HTMLResponse)
async def create_policies_job_page(request: Request, jobs: Jobs, session: Session, job_id: str,
                                   _user: Viewer) -> HTMLResponse:
    job = await jobs.get(job_id)  # an unknown id: the 404 page
    st = await session.get(Statement, job["statement_id"])
    return render(request, "intake_create_policies_job.html", job=job, st=st)


@router.get("/policy-sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, session: Session, _user: Viewer,
                        date_from: str = "", date_to: str = "", sort: str = "-date", page: int = 1,
                        login: str = "") -> HTMLResponse:
    page = max(page, 1)
    error = None
    try:
        df = date.fromisoformat(date_from) if date_from else None
        dt = date.fromisoformat(date_to) if date_to else None
        total, rows = await list_sessions(session, user=login or None, date_from=df, date_to=dt, sort=sort,
                                          limit=50, offset=(page - 1) * 50)
    except (ValueError, UseCaseError) as exc:
        total, rows, error = 0, [], str(exc)
    return render(request, "intake_sessions.html", sessions=rows, total=total, login=login, date_from=date_from,
                  date_to=date_to, sort=sort, page=page, pages=max(1, -(-total // 50)), error=error)


@router.get("/policy-sessions/{session_id}", response_class=HTMLResponse)
async def session_page(request: Request, session: Session, session_id: str, user: Viewer) -> HTMLResponse:
    found = await session_policies(session, session_id)
    if found is None:
        raise NotFound("no such session")
    s, rows = found
    return render(request, "intake_session.html", s=s, policies=rows, defaults=json.loads(s.defaults),
                  can_undo=user.can("policies:create"))


UNDO_SHOWS = ("all", "voidable", "blocked")


def _undo_page(request: Request, result: dict[str, Any]) -> HTMLResponse:
    listing = Page(items=result["items"], total=result["total"], offset=result["offset"], limit=result["limit"],
                   sort="", query={"show": result["show"]})
    return render(request, "intake_session_undo.html", r=result, page=listing, shows=UNDO_SHOWS)


@router.get("/policy-sessions/{session_id}/undo", response_class=HTMLResponse)
async def undo_preview_page(request: Request, runtime: Runtime, session_id: str, _user: Creator,
                            show: str = "all", offset: Offset = 0) -> HTMLResponse:
    """The dry run: what the undo would void, what not and why; the button confirms."""
    async with runtime.db.session() as s:
        result = await undo_dry_run(s, session_id, runtime.settings.create_policies_undo_hours,
                                    show=show if show in UNDO_SHOWS else "all", limit=50, offset=offset)
    return _undo_page(request, result)


@router.post("/policy-sessions/{session_id}/undo", response_class=HTMLResponse)
async def undo_form(request: Request, runtime: Runtime, session_id: str, user: Creator) -> HTMLResponse:
    async with runtime.uow(actor=user.login) as tx:
        result = await undo_session(tx, session_id, runtime.settings.create_policies_undo_hours,
                                    show="blocked", limit=50, offset=0)
    return _undo_page(request, result)
