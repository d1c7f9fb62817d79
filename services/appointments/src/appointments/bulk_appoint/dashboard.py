"""The Appoint page: one request or a file, and a background job's page."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User
from agency_common.web import ServiceRuntime, page_permission, render
from agency_common.web.deps import Offset, Runtime
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appointments.bulk_appoint import files, jobs
from appointments.domain.rows import FileError
from appointments.transactions.schemas import BulkRequest
from appointments.transactions.transactions import appoint

router = APIRouter(include_in_schema=False)


async def _appoint_page(request: Request, runtime: ServiceRuntime, user: User, result: Any = None,
                        error: str | None = None) -> HTMLResponse:
    return render(request, "appoint.html", result=result, error=error, can_submit=user.can("appointments:submit"),
                  jobs=await jobs.list_jobs(runtime, 20),
                  threshold=runtime.settings.bulk_background_threshold)  # type: ignore[attr-defined]


@router.get("/appoint", response_class=HTMLResponse)
async def appoint_page(request: Request, runtime: Runtime,
                       user: Annotated[User, page_permission("appointments:view")]) -> HTMLResponse:
    return await _appoint_page(request, runtime, user)


@router.post("/appoint", response_class=HTMLResponse)
async def appoint_submit(request: Request, runtime: Runtime,
                         user: Annotated[User, page_permission("appointments:submit")]) -> Response:
    form = await request.form()
    upload = form.get("file")
    try:
        if upload is not None and getattr(upload, "filename", ""):
            parsed = files.parse_bulk_appoint_file(await upload.read(), upload.filename)  # type: ignore[union-attr]
            if len(parsed.requests) > runtime.settings.bulk_background_threshold:  # type: ignore[attr-defined]
                started = await jobs.start_job(runtime, user.login, parsed.requests, source="file",
                                               lines=parsed.lines, row_errors=parsed.row_errors,
                                               blank_rows=parsed.blank_rows)
                return RedirectResponse(started["job"]["page"], status_code=303)
            async with runtime.uow(actor=user.login) as tx:
                result = await files.bulk_appoint_file(tx, parsed)
        else:
            req = BulkRequest(npn=str(form.get("npn", "")).strip(),
                              states=[s for s in str(form.get("states", "")).split(";") if s.strip()],
                              loa_category=str(form.get("loa_category", "")),
                              cocodes=[c for c in str(form.get("cocodes", "")).split(";") if c.strip()],
                              submit=bool(form.get("submit")), submitJustInTime=bool(form.get("submit_jit")))
            async with runtime.uow(actor=user.login) as tx:
                result = await appoint(tx, [req], source="dashboard")
    except (FileError, ValueError) as exc:  # a file or a request the rules refuse: shown on the form
        return await _appoint_page(request, runtime, user, error=str(exc))
    return await _appoint_page(request, runtime, user, result=result)


@router.get("/appoint/jobs/{job_id}", response_class=HTMLResponse)
async def appoint_job_page(request: Request, runtime: Runtime, job_id: str,
                           _user: Annotated[User, page_permission("appointments:view")],
                           offset: Offset = 0) -> HTMLResponse:
    job = await jobs.get_job(runtime, job_id, max(0, offset), 100)
    return render(request, "appoint_job.html", job=job)
