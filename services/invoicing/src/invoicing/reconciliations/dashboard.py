"""Pages: home, the reconciliations list, open one, its page and header, close it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from agency_common.web import render
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from invoicing import errors
from invoicing.models import PolicyView, Reconciliation
from invoicing.policy_view.carriers import pick_list
from invoicing.reconciliations import queries as rec_queries
from invoicing.reconciliations import schemas as rec_schemas
from invoicing.reconciliations import usecases as rec_uc
from invoicing.reconciliations.pages import page_header
from invoicing.web import PAGE, PageEditor, PagePoster, PageViewer, back, describe, form_key, page_action

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: Session, _user: PageViewer) -> HTMLResponse:
    total = await session.scalar(select(func.count()).select_from(PolicyView))
    policies = (await session.execute(
        select(PolicyView).order_by(PolicyView.updated_at.desc()).limit(50))).scalars().all()
    by_status = dict((await session.execute(select(Reconciliation.status, func.count()).group_by(
        Reconciliation.status))).all())
    return render(request, "invoicing_home.html", total=total, policies=policies, by_status=by_status)


@router.get("/reconciliations", response_class=HTMLResponse)
async def reconciliations(request: Request, session: Session, user: PageViewer, status: str = "", page: int = 1,
                          error: str = "", carrier: str = "", filter_carrier: str = "", date_from: str = "",
                          date_to: str = "", statement: str = "", sort: str = "", order: str = "") -> HTMLResponse:
    """The list, filtered and sorted as the URL says (``carrier`` is what the new-reconciliation form
    offers after an error; the list's own carrier filter is ``filter_carrier``)."""
    given = {"status": status, "carrier": filter_carrier, "date_from": date_from, "date_to": date_to,
             "statement": statement, "sort": sort, "order": order}
    try:
        filters = rec_queries.ReconciliationFilters(**{k: v for k, v in given.items() if v})
    except ValidationError as exc:
        filters, error = rec_queries.ReconciliationFilters(), "; ".join(
            f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
    page = max(page, 1)
    total, recs = await rec_queries.list_reconciliations(session, filters, PAGE, (page - 1) * PAGE)
    carriers = await pick_list(session)
    kept = {("filter_carrier" if k == "carrier" else k): v for k, v in filters.model_dump(
        mode="json", exclude_defaults=True).items()}
    return render(request, "reconciliations.html", recs=recs, total=total, page=page, status=filters.status or "",
                  carriers=carriers, carrier=carrier, error=error, pages=(total + PAGE - 1) // PAGE,
                  f=filters, statuses=rec_queries.STATUSES, query=urlencode(kept),
                  filtered=urlencode({k: v for k, v in kept.items() if k not in ("sort", "order")}))


@router.post("/reconciliations/new")
async def new_reconciliation(runtime: Runtime, user: PageEditor, carrier: Annotated[str, Form()],
                             subordinate_carrier: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                             address: Annotated[str, Form()] = "", date_booked: Annotated[str, Form()] = "",
                             description: Annotated[str, Form()] = "",
                             internal_note: Annotated[str, Form()] = "") -> Response:
    try:
        data = rec_schemas.NewReconciliation(carrier=carrier, subordinate_carrier=subordinate_carrier or None,
                                    name=name or None, address=address or None, date_booked=date_booked or None,
                                    description=description or None, internal_note=internal_note or None)
    except ValidationError as exc:
        return back("/reconciliations", error="; ".join(e["msg"] for e in exc.errors()), carrier=carrier)
    try:
        async with runtime.uow(actor=user.login) as tx:
            rec = await rec_uc.open_reconciliation(tx, data, rec_uc.business_today(runtime.settings.business_timezone))
    except errors.Invalid as exc:
        return back("/reconciliations", error=describe(exc), carrier=carrier)
    return back(f"/reconciliations/{rec['id']}")


@router.get("/reconciliations/{rec_id}", response_class=HTMLResponse)
async def reconciliation(request: Request, session: Session, rec_id: str, user: PageViewer, message: str = "",
                         error: str = "", popup: str = "") -> HTMLResponse:
    rec = await page_header(session, rec_id)
    preview = await rec_uc.abort_preview(session, await session.get(Reconciliation, rec_id))
    return render(request, "reconciliation.html", rec=rec, message=message,
                  error=error, popup=popup, key=form_key(), abort_preview=preview)


@router.post("/reconciliations/{rec_id}/header")
async def save_header(runtime: Runtime, rec_id: str, user: PageEditor, version: Annotated[int, Form()],
                      name: Annotated[str, Form()] = "", address: Annotated[str, Form()] = "",
                      date_booked: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                      internal_note: Annotated[str, Form()] = "",
                      statement_total: Annotated[str, Form()] = "") -> Response:
    try:
        data = rec_schemas.HeaderEdit(name=name or None, address=address or None, date_booked=date_booked or None,
                             description=description or None, internal_note=internal_note or None,
                             statement_total=statement_total or None, version=version)
        async with runtime.uow(actor=user.login) as tx:
            await rec_uc.edit_header(tx, rec_id, data)
    except ValidationError as exc:
        return back(f"/reconciliations/{rec_id}", error="; ".join(e["msg"] for e in exc.errors()))
    except errors.Conflict as exc:
        return back(f"/reconciliations/{rec_id}", error=str(exc))
    return back(f"/reconciliations/{rec_id}", message="Saved.")


@router.post("/reconciliations/{rec_id}/close")
async def close(runtime: Runtime, rec_id: str, user: PagePoster, idempotency_key: Annotated[str, Form()]) -> Response:
    result = await page_action(runtime, rec_id, user, rec_uc.close_reconciliation, idempotency_key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    return back(f"/reconciliations/{rec_id}", message="Reconciliation posted.")
