"""Bulk terminate and manual tasks pages."""

from __future__ import annotations

from typing import Annotated

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appointments.bulk_files import ROW_FILTERS, import_page, recent_imports
from appointments.domain.rows import FileError
from appointments.errors import BatchStateError
from appointments.terminations import files
from appointments.terminations.tasks import complete_task, list_tasks
from appointments.web import found, read_upload

router = APIRouter(include_in_schema=False)


@router.get("/terminations", response_class=HTMLResponse)
async def terminations_page(request: Request, session: Session,
                            user: Annotated[User, page_permission("appointments:view")],
                            error: str | None = None) -> HTMLResponse:
    recent = await recent_imports(session, "terminations", 20)
    return render(request, "terminations.html", recent=recent, error=error,
                  can_edit=user.can("appointments:terminate"))


@router.post("/terminations", response_class=HTMLResponse)
async def terminations_upload(request: Request, runtime: Runtime, session: Session,
                              user: Annotated[User, page_permission("appointments:terminate")],
                              file: Annotated[UploadFile, File()]) -> Response:
    content = await read_upload(runtime, file)
    try:
        async with runtime.uow(actor=user.login) as tx:
            imp = await files.parse_termination_file(tx, file.filename or "upload.csv", content)
    except FileError as exc:  # shown on the upload page
        return await terminations_page(request, session, user, error=str(exc))
    return RedirectResponse(f"/terminations/{imp.id}", status_code=303)


RESULT_PAGE, RESULT_PAGE_MAX = 200, 1000  # rows a page of a termination file's result


@router.get("/terminations/{import_id}", response_class=HTMLResponse)
async def termination_result(request: Request, session: Session, import_id: str,
                             user: Annotated[User, page_permission("appointments:view")], offset: Offset = 0,
                             limit: int = RESULT_PAGE, rows: str = "") -> HTMLResponse:
    """A termination file's result, a page of rows at a time (``rows``: all, ``errors`` or ``valid``)."""
    view, rows_page = found(await import_page(session, import_id, "terminations", max(0, offset),
                                              min(max(1, limit), RESULT_PAGE_MAX), rows if rows in ROW_FILTERS else ""),
                            "no such import")
    n, manual = await files.termination_counts(session, import_id)
    return render(request, "import.html", imp=view, rows_page=rows_page, kind="terminations", n=n, m=manual,
                  can_act=user.can("appointments:terminate"))


@router.post("/terminations/{import_id}/submit")
async def termination_submit(runtime: Runtime, import_id: str,
                             user: Annotated[User, page_permission("appointments:terminate")],
                             immediate: Annotated[bool, Form()] = False,
                             batch_size: Annotated[int, Form()] = 500) -> Response:
    try:
        async with runtime.uow(actor=user.login) as tx:
            await files.submit_termination_import(tx, import_id, immediate=immediate, batch_size=max(1, batch_size))
    except BatchStateError:  # already submitted: the file's page shows its transactions
        pass
    return RedirectResponse(f"/terminations/{import_id}", status_code=303)


@router.get("/tasks", response_class=HTMLResponse)
async def tasks_page(request: Request, session: Session, user: Annotated[User, page_permission("appointments:view")],
                     status: str = "open") -> HTMLResponse:
    tasks = await list_tasks(session, status if status in ("open", "done") else None)
    return render(request, "tasks.html", tasks=tasks, status=status, can_edit=user.can("appointments:terminate"))


@router.post("/tasks/{task_id}/done")
async def task_done(runtime: Runtime, task_id: str, user: Annotated[User, page_permission("appointments:terminate")],
                    note: Annotated[str, Form()] = "") -> Response:
    async with runtime.uow(actor=user.login) as tx:
        await complete_task(tx, task_id, note.strip()[:1000] or None)
    return RedirectResponse("/tasks", status_code=303)
