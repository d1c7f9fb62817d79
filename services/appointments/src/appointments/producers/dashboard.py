"""Producers pages (list, portal invites, one producer, sync) and bulk onboarding."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User
from agency_common.web import ServiceRuntime, page_permission, render
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from appointments.bulk_files import ROW_FILTERS, import_page, recent_imports
from appointments.domain import producers as producer_rules
from appointments.domain.rows import AGENT_TYPES, FileError
from appointments.errors import NotFound
from appointments.portals import portals
from appointments.producers import editing, onboarding
from appointments.producers.license_sync import request_license_sync
from appointments.producers.queries import (
    PII_FIELDS,
    PRODUCER_SORTING,
    agency_names,
    producer_detail,
    producer_view,
    producers_page,
    revealed_npns,
    transactions_of,
)
from appointments.web import found, read_upload, record_reveals

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 500  # the screen's rows a page (what it showed in all before it had pages)
HISTORY_PAGE = 20  # changes a page of a producer's history
RESULT_PAGE, RESULT_PAGE_MAX = 200, 1000  # rows a page of an onboarding result


async def _producers_ctx(session: AsyncSession, runtime: ServiceRuntime, user: User, q: str = "", sort: str = "",
                         offset: int = 0, limit: int = PAGE_SIZE) -> dict[str, Any]:
    listed = await producers_page(session, max(0, offset), min(max(1, limit), PAGE_SIZE),
                                  PRODUCER_SORTING.valid(sort), q)
    portal_list = await portals.list_portals(session, by_name=True)
    agencies = await agency_names(session)
    views = [producer_view(p, user, runtime.pii) | {"agency": agencies.get(p.agency_id or "", "")}
             for p in listed.items]
    await record_reveals(runtime, user, revealed_npns(user, views), PII_FIELDS)
    return {"producers": views, "page": listed, "portals": portal_list, "q": q, "invite": None,
            "can_invite": user.can("portals:invite")}


@router.get("/producers", response_class=HTMLResponse)
async def producers_list_page(request: Request, runtime: Runtime, session: Session,
                              user: Annotated[User, page_permission("producers:view")], q: str = "", sort: str = "",
                              offset: Offset = 0, limit: int = PAGE_SIZE) -> HTMLResponse:
    return render(request, "producers.html", **await _producers_ctx(session, runtime, user, q, sort, offset, limit))


@router.post("/producers/invite", response_class=HTMLResponse)
async def producers_invite(request: Request, runtime: Runtime, session: Session,
                           user: Annotated[User, page_permission("portals:invite")]) -> HTMLResponse:
    form = await request.form()
    ids = [str(x) for x in form.getlist("producer_id")]
    portal_id = str(form.get("portal_id") or "")
    if not ids:
        result: dict[str, Any] = {"error": "Select at least one producer."}
    else:
        try:
            async with runtime.uow(actor=user.login) as tx:
                result = await portals.invite(tx, portal_id, ids)
        except NotFound:
            result = {"error": "Choose a portal."}
    return render(request, "producers.html", **(await _producers_ctx(session, runtime, user)) | {"invite": result})


@router.get("/producers/{npn}", response_class=HTMLResponse)
async def producer_page(request: Request, runtime: Runtime, session: Session, npn: str,
                        user: Annotated[User, page_permission("producers:view")], history_offset: Offset = 0,
                        saved: int | None = None) -> HTMLResponse:
    p = found(await producer_detail(session, npn, user, runtime.pii), "no such producer")
    await record_reveals(runtime, user, revealed_npns(user, [p]), PII_FIELDS)
    txs = await transactions_of(session, npn, 200)
    total, changes = await editing.history(session, runtime.tables.audit_log, npn, runtime.pii, max(0, history_offset),
                                           HISTORY_PAGE)
    return render(request, "producer.html", p=p, transactions=txs, can_edit=user.can("producers:edit"),
                  history=changes, history_total=total, history_offset=max(0, history_offset),
                  history_page=HISTORY_PAGE, agencies=await agency_names(session), saved=saved)


async def _edit_form(request: Request, runtime: ServiceRuntime, session: AsyncSession, user: User, npn: str,
                     values: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    p = found(await producer_detail(session, npn, user, runtime.pii), "no such producer")
    agencies = await editing.agencies_by_npn(session)
    names = await agency_names(session)
    if values is None:
        npn_of = {aid: a_npn for a_npn, aid in agencies.items()}
        values = {k: p.get(k) or "" for k in producer_rules.EDITABLE} | {"agency_npn": npn_of.get(p["agency_id"] or "", "")}
    return render(request, "producer_edit.html", status_code=422 if errors else 200, p=p, values=values,
                  errors=errors or {}, fields=producer_rules.EDITABLE, agent_types=AGENT_TYPES,
                  agencies=sorted((names[aid], a_npn) for a_npn, aid in agencies.items()))


@router.get("/producers/{npn}/edit", response_class=HTMLResponse)
async def producer_edit_page(request: Request, runtime: Runtime, session: Session, npn: str,
                             user: Annotated[User, page_permission("producers:edit")]) -> HTMLResponse:
    return await _edit_form(request, runtime, session, user, npn)


@router.post("/producers/{npn}/edit", response_class=HTMLResponse)
async def producer_edit_save(request: Request, runtime: Runtime, session: Session, npn: str,
                             user: Annotated[User, page_permission("producers:edit")]) -> Response:
    """Save the form: every field's error shown beside it, with what was typed kept."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in producer_rules.EDITABLE if k in form}
    try:
        async with runtime.uow(actor=user.login) as tx:
            out = await editing.edit_producer(tx, npn, values, runtime.pii)
    except editing.ProducerEditError as exc:
        return await _edit_form(request, runtime, session, user, npn, values, exc.errors)
    return RedirectResponse(f"/producers/{npn}?saved={len(out['changed'])}", status_code=303)


@router.post("/producers/{npn}/sync")
async def producer_sync(runtime: Runtime, npn: str, user: Annotated[User, page_permission("producers:edit")]) -> Response:
    async with runtime.uow(actor=user.login) as tx:
        await request_license_sync(tx, [npn])
    return RedirectResponse(f"/producers/{npn}", status_code=303)


@router.get("/onboarding", response_class=HTMLResponse)
async def onboarding_page(request: Request, session: Session, user: Annotated[User, page_permission("producers:view")],
                          error: str | None = None) -> HTMLResponse:
    recent = await recent_imports(session, "producers", 20)
    return render(request, "onboarding.html", recent=recent, error=error, can_edit=user.can("producers:edit"))


@router.post("/onboarding", response_class=HTMLResponse)
async def onboarding_upload(request: Request, runtime: Runtime, session: Session,
                            user: Annotated[User, page_permission("producers:edit")],
                            file: Annotated[UploadFile, File()]) -> Response:
    content = await read_upload(runtime, file)
    try:
        async with runtime.uow(actor=user.login) as tx:
            imp = await onboarding.parse_producer_file(tx, file.filename or "upload.csv", content, runtime.pii)
    except FileError as exc:  # shown on the upload page
        return await onboarding_page(request, session, user, error=str(exc))
    return RedirectResponse(f"/onboarding/{imp.id}", status_code=303)


@router.get("/onboarding/{import_id}", response_class=HTMLResponse)
async def onboarding_result(request: Request, session: Session, import_id: str,
                            user: Annotated[User, page_permission("producers:view")], offset: Offset = 0,
                            limit: int = RESULT_PAGE, rows: str = "") -> HTMLResponse:
    """An onboarding file's result, a page of rows at a time (``rows``: all, ``errors`` or ``valid``)."""
    view, rows_page = found(await import_page(session, import_id, "producers", max(0, offset),
                                              min(max(1, limit), RESULT_PAGE_MAX), rows if rows in ROW_FILTERS else ""),
                            "no such import")
    return render(request, "import.html", imp=view, rows_page=rows_page, kind="producers",
                  can_act=user.can("producers:edit"))


@router.post("/onboarding/{import_id}/process")
async def onboarding_process(runtime: Runtime, import_id: str,
                             user: Annotated[User, page_permission("producers:edit")]) -> Response:
    async with runtime.uow(actor=user.login) as tx:
        await onboarding.process_producer_import(tx, import_id, runtime.pii)
    return RedirectResponse(f"/onboarding/{import_id}", status_code=303)
