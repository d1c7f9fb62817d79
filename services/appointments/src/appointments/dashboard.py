"""appointments' dashboard pages (server-rendered; actions call the same use cases as the API)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from agency_common.auth import User
from agency_common.web import DashboardUser, render
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from appointments import imports, jobs, portals, refdata, report
from appointments import models as m
from appointments.api import _import_view, batch_view, producer_view, read_upload
from appointments.domain.rows import FileError
from appointments.transactions import appoint
from appointments.usecases import (
    CLOSABLE,
    BatchStateError,
    BulkRequest,
    close_not_eligible,
    close_transactions,
    complete_task,
    list_tasks,
    request_license_sync,
    submit_batch,
)

router = APIRouter(include_in_schema=False)


def need(user: User, permission: str) -> None:
    if not user.can(permission):
        raise HTTPException(403, f"missing permission: {permission}")


def rt(request: Request) -> Any:
    return request.app.state.runtime


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, _user: DashboardUser) -> HTMLResponse:
    async with rt(request).db.session() as session:
        batches = (await session.execute(
            select(m.TransactionBatch).order_by(m.TransactionBatch.created_at.desc()).limit(100))).scalars().all()
        T = m.AppointmentTransaction
        counts = {}
        if batches:
            for bid, n in (await session.execute(select(T.batch_id, func.count()).where(
                    T.batch_id.in_([b.id for b in batches])).group_by(T.batch_id))).all():
                counts[bid] = n
    return render(request, "appointments_home.html", batches=batches, counts=counts)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, batch_id: str, user: DashboardUser, error: str | None = None) -> HTMLResponse:
    b = await batch_view(request, batch_id)
    return render(request, "batch.html", b=b, error=error, can_submit=user.can("appointments:submit"),
                  closable=CLOSABLE, closable_count=sum(b["counts"].get(st, 0) for st in CLOSABLE))


@router.post("/batches/{batch_id}/submit")
async def batch_submit(request: Request, batch_id: str, user: DashboardUser,
                       include_jit: Annotated[bool, Form()] = False) -> Response:
    need(user, "appointments:submit")
    try:
        async with rt(request).uow(actor=user.login) as tx:
            await submit_batch(tx, batch_id, include_jit=include_jit)
    except BatchStateError as exc:
        return await batch_page(request, batch_id, user, error=str(exc))
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/close-not-eligible")
async def batch_close(request: Request, batch_id: str, user: DashboardUser) -> Response:
    need(user, "appointments:submit")
    async with rt(request).uow(actor=user.login) as tx:
        await close_not_eligible(tx, batch_id)
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/close")
async def batch_close_selected(request: Request, batch_id: str, user: DashboardUser) -> Response:
    """Drop the ticked rows of a batch (before review ends, or set aside what NIPR refused)."""
    need(user, "appointments:submit")
    form = await request.form()
    ids = [str(x) for x in form.getlist("transaction_id")]
    reason = str(form.get("reason") or "").strip()[:500]
    if not ids or not reason:
        return await batch_page(request, batch_id, user, error="Tick the transactions to close and say why.")
    async with rt(request).uow(actor=user.login) as tx:
        out = await close_transactions(tx, ids, reason)
    if out["refused"]:
        return await batch_page(request, batch_id, user, error="; ".join(
            f"{r['id'][:8]}: {r['reason']}" for r in out["refused"]))
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


# -- producers and portal invites --------------------------------------------------------------------------
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
async def producers_page(request: Request, user: DashboardUser, q: str = "") -> HTMLResponse:
    need(user, "producers:view")
    return render(request, "producers.html", **await _producers_ctx(request, user, q))


@router.post("/producers/invite", response_class=HTMLResponse)
async def producers_invite(request: Request, user: DashboardUser) -> HTMLResponse:
    need(user, "portals:invite")
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
async def producer_page(request: Request, npn: str, user: DashboardUser) -> HTMLResponse:
    need(user, "producers:view")
    from appointments.api import get_producer

    p = await get_producer(request, npn, user)
    async with rt(request).db.session() as session:
        T = m.AppointmentTransaction
        txs = (await session.execute(select(T).where(T.npn == npn).order_by(T.created_at.desc()).limit(200))).scalars().all()
    return render(request, "producer.html", p=p, transactions=txs)


@router.post("/producers/{npn}/sync")
async def producer_sync(request: Request, npn: str, user: DashboardUser) -> Response:
    need(user, "producers:edit")
    async with rt(request).uow(actor=user.login) as tx:
        await request_license_sync(tx, [npn])
    return RedirectResponse(f"/producers/{npn}", status_code=303)


# -- bulk onboarding -------------------------------------------------------------------------------------
@router.get("/onboarding", response_class=HTMLResponse)
async def onboarding_page(request: Request, user: DashboardUser, error: str | None = None) -> HTMLResponse:
    async with rt(request).db.session() as session:
        recent = (await session.execute(select(m.BulkImport).where(m.BulkImport.kind == "producers")
                                        .order_by(m.BulkImport.uploaded_at.desc()).limit(20))).scalars().all()
    return render(request, "onboarding.html", recent=recent, error=error, can_edit=user.can("producers:edit"))


@router.post("/onboarding", response_class=HTMLResponse)
async def onboarding_upload(request: Request, user: DashboardUser, file: Annotated[UploadFile, File()]) -> Response:
    need(user, "producers:edit")
    content = await read_upload(request, file)
    try:
        async with rt(request).uow(actor=user.login) as tx:
            imp = await imports.parse_producer_file(tx, file.filename or "upload.csv", content, rt(request).pii)
    except FileError as exc:
        return await onboarding_page(request, user, error=str(exc))
    return RedirectResponse(f"/onboarding/{imp.id}", status_code=303)


@router.get("/onboarding/{import_id}", response_class=HTMLResponse)
async def onboarding_result(request: Request, import_id: str, user: DashboardUser) -> HTMLResponse:
    view = await _import_view(request, import_id, "producers")
    return render(request, "import.html", imp=view, kind="producers", can_act=user.can("producers:edit"))


@router.post("/onboarding/{import_id}/process")
async def onboarding_process(request: Request, import_id: str, user: DashboardUser) -> Response:
    need(user, "producers:edit")
    async with rt(request).uow(actor=user.login) as tx:
        await imports.process_producer_import(tx, import_id)
    return RedirectResponse(f"/onboarding/{import_id}", status_code=303)


# -- bulk appoint ------------------------------------------------------------------------------------------
async def _appoint_page(request: Request, user: User, result: Any = None, error: str | None = None) -> HTMLResponse:
    return render(request, "appoint.html", result=result, error=error, can_submit=user.can("appointments:submit"),
                  jobs=await jobs.list_jobs(rt(request), 20),
                  threshold=rt(request).settings.bulk_background_threshold)


@router.get("/appoint", response_class=HTMLResponse)
async def appoint_page(request: Request, user: DashboardUser) -> HTMLResponse:
    return await _appoint_page(request, user)


@router.post("/appoint", response_class=HTMLResponse)
async def appoint_submit(request: Request, user: DashboardUser) -> Response:
    need(user, "appointments:submit")
    form = await request.form()
    upload = form.get("file")
    runtime = rt(request)
    try:
        if upload is not None and getattr(upload, "filename", ""):
            parsed = imports.parse_bulk_appoint_file(await upload.read(), upload.filename)  # type: ignore[union-attr]
            if len(parsed.requests) > runtime.settings.bulk_background_threshold:
                started = await jobs.start_job(runtime, user.login, parsed.requests, source="file",
                                               lines=parsed.lines, row_errors=parsed.row_errors,
                                               blank_rows=parsed.blank_rows)
                return RedirectResponse(started["job"]["page"], status_code=303)
            async with runtime.uow(actor=user.login) as tx:
                result = await imports.bulk_appoint_file(tx, parsed)
        else:
            req = BulkRequest(npn=str(form.get("npn", "")).strip(),
                              states=[s for s in str(form.get("states", "")).split(";") if s.strip()],
                              loa_category=str(form.get("loa_category", "")),
                              cocodes=[c for c in str(form.get("cocodes", "")).split(";") if c.strip()],
                              submit=bool(form.get("submit")), submitJustInTime=bool(form.get("submit_jit")))
            async with runtime.uow(actor=user.login) as tx:
                result = await appoint(tx, [req], source="dashboard")
    except (FileError, ValueError) as exc:
        return await _appoint_page(request, user, error=str(exc))
    return await _appoint_page(request, user, result=result)


@router.get("/appoint/jobs/{job_id}", response_class=HTMLResponse)
async def appoint_job_page(request: Request, job_id: str, _user: DashboardUser, offset: int = 0) -> HTMLResponse:
    try:
        job = await jobs.get_job(rt(request), job_id, max(0, offset), 100)
    except jobs.NotFound:
        raise HTTPException(404, "no such job") from None
    return render(request, "appoint_job.html", job=job)


# -- appointments report and bulk terminate ----------------------------------------------------------------
@router.get("/report", response_class=HTMLResponse)
async def report_page(request: Request, user: DashboardUser, cocode: str = "", status: str = "Appointed",
                      line_of_authority: str = "", state: str = "", page: int = 1) -> HTMLResponse:
    need(user, "appointments:view")
    f = report.Filters(cocode or None, status or None, line_of_authority or None, state or None)
    size = report.PAGE_SIZE
    async with rt(request).db.session() as session:
        pages = max(1, -(-(await report.count(session, f)) // size))
        page = min(max(1, page), pages)
        result = await report.page(session, f, (page - 1) * size, size)
    query = urlencode({"cocode": cocode, "status": status, "line_of_authority": line_of_authority, "state": state})
    return render(request, "report.html", rows=result["items"], total=result["total"], page=page, pages=pages,
                  first_row=result["offset"] + 1, last_row=result["offset"] + len(result["items"]), query=query,
                  f={"cocode": cocode, "status": status, "line_of_authority": line_of_authority, "state": state})


@router.get("/terminations", response_class=HTMLResponse)
async def terminations_page(request: Request, user: DashboardUser, error: str | None = None) -> HTMLResponse:
    async with rt(request).db.session() as session:
        recent = (await session.execute(select(m.BulkImport).where(m.BulkImport.kind == "terminations")
                                        .order_by(m.BulkImport.uploaded_at.desc()).limit(20))).scalars().all()
    return render(request, "terminations.html", recent=recent, error=error,
                  can_edit=user.can("appointments:terminate"))


@router.post("/terminations", response_class=HTMLResponse)
async def terminations_upload(request: Request, user: DashboardUser, file: Annotated[UploadFile, File()]) -> Response:
    need(user, "appointments:terminate")
    content = await read_upload(request, file)
    try:
        async with rt(request).uow(actor=user.login) as tx:
            imp = await imports.parse_termination_file(tx, file.filename or "upload.csv", content)
    except FileError as exc:
        return await terminations_page(request, user, error=str(exc))
    return RedirectResponse(f"/terminations/{imp.id}", status_code=303)


@router.get("/terminations/{import_id}", response_class=HTMLResponse)
async def termination_result(request: Request, import_id: str, user: DashboardUser) -> HTMLResponse:
    view = await _import_view(request, import_id, "terminations")
    n = sum(r.get("transactions", 0) for r in view["rows"] if r["valid"])
    manual = sum(r.get("manual_tasks", 0) for r in view["rows"] if r["valid"])
    return render(request, "import.html", imp=view, kind="terminations", n=n, m=manual,
                  can_act=user.can("appointments:terminate"))


@router.post("/terminations/{import_id}/submit")
async def termination_submit(request: Request, import_id: str, user: DashboardUser,
                             immediate: Annotated[bool, Form()] = False,
                             batch_size: Annotated[int, Form()] = 500) -> Response:
    need(user, "appointments:terminate")
    try:
        async with rt(request).uow(actor=user.login) as tx:
            await imports.submit_termination_import(tx, import_id, immediate=immediate, batch_size=max(1, batch_size))
    except BatchStateError:
        pass
    return RedirectResponse(f"/terminations/{import_id}", status_code=303)


# -- manual tasks ------------------------------------------------------------------------------------------
@router.get("/tasks", response_class=HTMLResponse)
async def tasks_page(request: Request, user: DashboardUser, status: str = "open") -> HTMLResponse:
    need(user, "appointments:view")
    async with rt(request).db.session() as session:
        tasks = await list_tasks(session, status if status in ("open", "done") else None)
    return render(request, "tasks.html", tasks=tasks, status=status, can_edit=user.can("appointments:terminate"))


@router.post("/tasks/{task_id}/done")
async def task_done(request: Request, task_id: str, user: DashboardUser,
                    note: Annotated[str, Form()] = "") -> Response:
    need(user, "appointments:terminate")
    try:
        async with rt(request).uow(actor=user.login) as tx:
            await complete_task(tx, task_id, note.strip()[:1000] or None)
    except LookupError:
        raise HTTPException(404, "no such task") from None
    return RedirectResponse("/tasks", status_code=303)


# -- reference data ----------------------------------------------------------------------------------------
@router.get("/reference", response_class=HTMLResponse)
async def reference_page(request: Request, user: DashboardUser, kind: str = "business_rules",
                         error: str | None = None, loaded: int | None = None) -> HTMLResponse:
    if kind not in refdata.KINDS:
        kind = "business_rules"
    async with rt(request).db.session() as session:
        rows = await refdata.listing(session, kind)
    return render(request, "reference.html", kinds=refdata.KINDS, kind=refdata.KINDS[kind], rows=rows,
                  error=error, loaded=loaded, can_edit=user.can("reference_data:edit"))


@router.post("/reference/{kind}", response_class=HTMLResponse)
async def reference_add(request: Request, kind: str, user: DashboardUser) -> HTMLResponse:
    need(user, "reference_data:edit")
    if kind not in refdata.KINDS:
        raise HTTPException(404, "unknown kind")
    form = await request.form()
    upload = form.get("file")
    try:
        async with rt(request).uow(actor=user.login) as tx:
            if upload is not None and getattr(upload, "filename", ""):
                rows: list[dict[str, str]] | refdata.RefDataFile = refdata.parse_file(
                    kind, await upload.read(), upload.filename)  # type: ignore[union-attr]
                source = f"upload {upload.filename} by {user.login}"  # type: ignore[union-attr]
            else:
                rows = [{c: str(form.get(c, "")).strip() for c in refdata.KINDS[kind].columns}]
                source = f"dashboard entry by {user.login}"
            n = await refdata.load_rows(tx, kind, rows, source_default=source)
    except refdata.RefDataError as exc:
        return await reference_page(request, user, kind, error="; ".join(exc.errors))
    return await reference_page(request, user, kind, loaded=n)


