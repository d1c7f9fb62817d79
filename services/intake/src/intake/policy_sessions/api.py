"""The Create Policies JSON API: create from a statement (now or as a job), the jobs, the
sessions and their policies."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from agency_common.auth import User, require
from agency_common.tabular import csv_bytes
from agency_common.web.deps import Offset, Runtime, Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from intake.errors import NotFound
from intake.policy_sessions.jobs import Jobs
from intake.policy_sessions.queries import list_sessions, session_policies
from intake.policy_sessions.schemas import (
    CreatePoliciesRequest,
    JobAccepted,
    JobOut,
    SessionCreated,
    SessionPage,
    SessionWithPolicies,
    UndoOut,
    session_json,
)
from intake.policy_sessions.undo import undo_dry_run, undo_session

router = APIRouter(prefix="/api", tags=["intake"])


async def _session_policies(session: Any, session_id: str) -> tuple[Any, list[dict[str, Any]]]:
    found = await session_policies(session, session_id)
    if found is None:
        raise NotFound("no such session")
    return found


@router.post("/statements/{statement_id}/create-policies", status_code=201, response_model=SessionCreated, responses={
    200: {"model": SessionCreated, "description": "the session this idempotency key already created"},
    202: {"model": JobAccepted, "description": "a large statement: a background job (poll `job.url`)"}})
async def create_policies_route(jobs: Jobs, statement_id: str, body: CreatePoliciesRequest,
                                user: Annotated[User, require("policies:create")]) -> JSONResponse:
    """The session `id` and `count` (201; 200 when the idempotency key already made it). Above
    `create_policies_background_threshold` unmatched lines: 202 with `job` (`status`, `done` of
    `total`, `session_id` when done) at `/api/create-policies-jobs/{job id}`."""
    result = await jobs.submit(statement_id, body, user.login)
    if "job" in result:
        job = result["job"]
        return JSONResponse({"background": True, "job": job}, status_code=202, headers={"Location": job["url"]})
    created = result["created"]
    return JSONResponse(session_json(result["session"]) | {"created": created}, status_code=201 if created else 200)


@router.get("/create-policies-jobs/{job_id}", response_model=JobOut, response_model_exclude_unset=True)
async def create_policies_job(jobs: Jobs, job_id: str,
                              _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    return await jobs.get(job_id)


@router.get("/policy-sessions", response_model=SessionPage, response_model_exclude_unset=True)
async def policy_sessions(
    session: Session, _user: Annotated[User, require("policies:view")],
    user: str | None = None, date_from: date | None = None, date_to: date | None = None,
    sort: Annotated[str, Query(description="date, user, count or number; prefix - for descending")] = "-date",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    total, rows = await list_sessions(session, user=user, date_from=date_from, date_to=date_to, sort=sort,
                                      limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [session_json(s) for s in rows]}


@router.get("/policy-sessions/{session_id}", response_model=SessionWithPolicies, response_model_exclude_unset=True)
async def policy_session(session: Session, session_id: str,
                         _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    s, rows = await _session_policies(session, session_id)
    return session_json(s) | {"policies": [
        {"policy_id": r["id"], "client_name": r["client_name"], "policy_number": r["policy_number"],
         "policy_type": r["line_of_business"], "status": r["status"],
         "effective_date": r["effective_date"].isoformat() if r["effective_date"] else None} for r in rows]}


@router.get("/policy-sessions/{session_id}/policies.csv")
async def policy_session_csv(session: Session, session_id: str,
                             _user: Annotated[User, require("policies:view")]) -> StreamingResponse:
    s, rows = await _session_policies(session, session_id)
    body = ([r["client_name"], r["policy_number"], r["line_of_business"] or "", r["status"] or "",
             r["effective_date"].isoformat() if r["effective_date"] else ""] for r in rows)
    return StreamingResponse(
        csv_bytes(["Client", "Policy number", "Policy type", "Status", "Effective date"], body),
        media_type="text/csv", headers=attachment(f"session-{s.number}.csv"))


@router.post("/policy-sessions/{session_id}/undo", response_model=UndoOut)
async def undo_policy_session(
    runtime: Runtime, session_id: str, user: Annotated[User, require("policies:create")],
    dry_run: Annotated[bool, Query(description="true: only say what would be voided and why not")] = True,
    show: Annotated[Literal["voidable", "blocked", "all"], Query(description="which policies the page lists")] = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Void the session's policies nothing has touched since (no posting, no edit, no other statement
    line, no sales record since), within ``create_policies_undo_hours``; their session lines go back to
    unmatched. ``dry_run=true`` (the default) writes nothing and its page lists what would be voided
    and what not (with the reason); after the undo the page lists the policies not voided. A second
    undo voids nothing more and says so; outside the window: 409 in words."""
    hours = runtime.settings.create_policies_undo_hours
    if dry_run:
        async with runtime.db.session() as s:
            return await undo_dry_run(s, session_id, hours, show=show, limit=limit, offset=offset)
    async with runtime.uow(actor=user.login) as tx:
        return await undo_session(tx, session_id, hours, show=show, limit=limit, offset=offset)
