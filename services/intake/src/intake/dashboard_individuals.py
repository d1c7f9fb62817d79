"""Dashboard: Individual Advanced Search, saved searches, Create Sales Records (with confirmation)
and the job's progress."""

from __future__ import annotations

import uuid
from typing import Any

from agency_common.web import DashboardUser, render
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from intake.individuals import (
    SalesRecordJobIn,
    SearchCriteria,
    _cipher,
    individual_json,
    job_json,
    preview_counts,
    save_search,
    saved_search_json,
    search,
    start_job,
)
from intake.models import SalesRecordJob, SavedSearch
from intake.usecases import UseCaseError

router = APIRouter(include_in_schema=False)
CRITERIA_FIELDS = list(SearchCriteria.model_fields)


def _criteria(params: dict[str, Any]) -> SearchCriteria:
    values = {k: v for k, v in params.items() if k in CRITERIA_FIELDS and str(v).strip() != ""}
    return SearchCriteria.model_validate(values)


@router.get("/individuals", response_class=HTMLResponse)
async def search_page(request: Request, user: DashboardUser, error: str | None = None,
                      message: str | None = None) -> HTMLResponse:
    if not user.can("individuals:view"):
        return render(request, "intake_message.html", status_code=403, message="You do not have the individuals:view permission.")
    runtime = request.app.state.runtime
    params = dict(request.query_params)
    saved_id = params.get("saved_search_id")
    page = max(int(params.get("page", "1") or 1), 1)
    items: list[dict[str, Any]] = []
    total, counts = 0, None
    saved_search_id: str | None = None
    try:
        async with runtime.db.session() as session:
            if saved_id:
                saved = await session.get(SavedSearch, saved_id)
                if saved is not None:
                    saved_search_id = saved.id  # the job is recorded next to the saved search
                    params = {**SearchCriteria.model_validate_json(saved.criteria).model_dump(exclude_none=True), **params}
            c = _criteria(params)
            if params.get("run"):
                total, rows = await search(session, c, sort=params.get("sort") or "last_name", limit=50,
                                           offset=(page - 1) * 50)
                items = [individual_json(i, _cipher(runtime), user.can("pii:reveal")) for i in rows]
                if user.can("individuals:edit") and user.can("sales_enablement:view"):
                    counts = await preview_counts(session, c)
            searches = (await session.execute(select(SavedSearch).order_by(SavedSearch.created_at.desc()).limit(100))).scalars().all()
            jobs = (await session.execute(select(SalesRecordJob).order_by(SalesRecordJob.created_at.desc()).limit(20))).scalars().all()
    except (ValidationError, UseCaseError, ValueError) as exc:
        c, searches, jobs, error = SearchCriteria(), [], [], str(exc)
    query = "&".join(f"{k}={v}" for k, v in c.model_dump(exclude_none=True, mode="json").items())
    return render(request, "intake_individuals.html", criteria=c.model_dump(exclude_none=True, mode="json"),
                  fields=CRITERIA_FIELDS, items=items, total=total, page=page, query=query, counts=counts,
                  searches=[saved_search_json(s) for s in searches], jobs=[job_json(j) for j in jobs],
                  types=runtime.settings.sales_record_types, idempotency_key=str(uuid.uuid4()),
                  error=error, message=message, ran=bool(params.get("run")), saved_search_id=saved_search_id)


@router.post("/individuals/saved-searches")
async def save_search_form(request: Request, user: DashboardUser) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            # The form field is not called "name": that is a search criterion ("name contains").
            s = await save_search(tx, form.get("search_name", ""), _criteria(form))
    except (ValidationError, UseCaseError) as exc:
        return await search_page(request, user, error=str(exc))
    return RedirectResponse(f"/individuals?saved_search_id={s.id}&run=1", status_code=303)


@router.post("/individuals/sales-records")
async def create_sales_records_form(request: Request, user: DashboardUser) -> Response:
    if not (user.can("individuals:edit") and user.can("sales_enablement:view")):
        return render(request, "intake_message.html", status_code=403,
                      message="Creating sales records needs the individuals:edit and sales_enablement:view permissions.")
    form = {k: str(v) for k, v in (await request.form()).items()}
    runtime = request.app.state.runtime
    try:
        body = SalesRecordJobIn(idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()),
                                sales_record_type=form.get("sales_record_type", ""), criteria=_criteria(form),
                                saved_search_id=form.get("saved_search_id") or None)
        async with runtime.uow(actor=user.login) as tx:
            job, _ = await start_job(tx, body, runtime.settings.sales_record_types)
    except (ValidationError, UseCaseError) as exc:
        return await search_page(request, user, error=str(exc))
    request.app.state.sales_jobs.wake.set()
    return RedirectResponse(f"/sales-record-jobs/{job.id}", status_code=303)


@router.get("/sales-record-jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str, user: DashboardUser) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as session:
        job = await session.get(SalesRecordJob, job_id)
    if job is None:
        return render(request, "intake_message.html", status_code=404, message="No such job.")
    return render(request, "intake_sales_job.html", job=job_json(job))
