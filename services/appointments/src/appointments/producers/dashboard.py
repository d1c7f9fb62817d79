"""Producers pages (list, portal invites, one producer, sync) and bulk onboarding."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User
from agency_common.web import page_permission, render
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from appointments import models as m
from appointments.domain.rows import FileError
from appointments.portals import portals
from appointments.producers import onboarding
from appointments.producers.license_sync import request_license_sync
from appointments.producers.queries import producer_detail, producer_view
from appointments.web import bulk_file_view, found, read_upload
from appointments.web import runtime as rt

router = APIRouter(include_in_schema=False)


async def _producers_ctx(request: Request, user: User, q: str = "") -> dict[str, Any]:
    async with rt(request).db.session() as session:
        stmt = select(m.Producer).order_by(m.Producer.last_name, m.Producer.npn).limit(500)
        if q:
            stmt = stmt.where((m.Producer.npn == q) | m.Producer.last_name.ilike(f"%{q}%"))
        producers = (await session.execute(stmt)).scalars().all()
        portal_list = (await session.execute(select(m.Portal).order_by(m.Portal.name))).scalars().all()
        agencies = dict((await session.execute(select(m.Agency.id, m.Agency.name))).all())
    views = [producer_view(p, user, rt(request).pii) | {"agency": agencies.get(p.agency_id or "", "")} for p in producers]
    return {"producers": views, "portals": portal_list, "q": q, "invite": None,
            "can_invite": user.can("portals:invite")}


@router.get("/producers", response_class=HTMLResponse)
async def producers_page(request: Request, user: Annotated[User, page_permission("producers:view")], q: str = "") -> HTMLResponse:
    return render(request, "producers.html", **await _producers_ctx(request, user, q))


@router.post("/producers/invite", response_class=HTMLResponse)
async def producers_invite(request: Request, user: Annotated[User, page_permission("portals:invite")]) -> HTMLResponse:
    form = await request.form()
    ids = [str(x) for x in form.getlist("producer_id")]
    portal_id = str(form.get("portal_id") or "")
    if not ids:
        result: dict[str, Any] = {"error": "Select at least one producer."}
    else:
        try:
            async with rt(request).uow(actor=user.login) as tx:
                result = await portals.invite(tx, portal_id, ids)
        except LookupError:
            result = {"error": "Choose a portal."}
    return render(request, "producers.html", **(await _producers_ctx(request, user)) | {"invite": result})


@router.get("/producers/{npn}", response_class=HTMLResponse)
async def producer_page(request: Request, npn: str, user: Annotated[User, page_permission("producers:view")]) -> HTMLResponse:
    async with rt(request).db.session() as session:
        p = found(await producer_detail(session, npn, user, rt(request).pii), "no such producer")
        T = m.AppointmentTransaction
        txs = (await session.execute(select(T).where(T.npn == npn).order_by(T.created_at.desc()).limit(200))).scalars().all()
    return render(request, "producer.html", p=p, transactions=txs)


@router.post("/producers/{npn}/sync")
async def producer_sync(request: Request, npn: str, user: Annotated[User, page_permission("producers:edit")]) -> Response:
    async with rt(request).uow(actor=user.login) as tx:
        await request_license_sync(tx, [npn])
    return RedirectResponse(f"/producers/{npn}", status_code=303)


@router.get("/onboarding", response_class=HTMLResponse)
async def onboarding_page(request: Request, user: Annotated[User, page_permission("producers:view")],
                          error: str | None = None) -> HTMLResponse:
    async with rt(request).db.session() as session:
        recent = (await session.execute(select(m.BulkImport).where(m.BulkImport.kind == "producers")
                                        .order_by(m.BulkImport.uploaded_at.desc()).limit(20))).scalars().all()
    return render(request, "onboarding.html", recent=recent, error=error, can_edit=user.can("producers:edit"))


@router.post("/onboarding", response_class=HTMLResponse)
async def onboarding_upload(request: Request, user: Annotated[User, page_permission("producers:edit")],
                            file: Annotated[UploadFile, File()]) -> Response:
    content = await read_upload(request, file)
    try:
        async with rt(request).uow(actor=user.login) as tx:
            imp = await onboarding.parse_producer_file(tx, file.filename or "upload.csv", content, rt(request).pii)
    except FileError as exc:
        return await onboarding_page(request, user, error=str(exc))
    return RedirectResponse(f"/onboarding/{imp.id}", status_code=303)


@router.get("/onboarding/{import_id}", response_class=HTMLResponse)
async def onboarding_result(request: Request, import_id: str, user: Annotated[User, page_permission("producers:view")]) -> HTMLResponse:
    view = await bulk_file_view(request, import_id, "producers")
    return render(request, "import.html", imp=view, kind="producers", can_act=user.can("producers:edit"))


@router.post("/onboarding/{import_id}/process")
async def onboarding_process(request: Request, import_id: str, user: Annotated[User, page_permission("producers:edit")]) -> Response:
    async with rt(request).uow(actor=user.login) as tx:
        await onboarding.process_producer_import(tx, import_id)
    return RedirectResponse(f"/onboarding/{import_id}", status_code=303)
