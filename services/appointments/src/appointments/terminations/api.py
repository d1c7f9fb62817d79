"""Bulk terminate and manual tasks (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Body, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from appointments.bulk_files import import_page
from appointments.domain import rows as rowcheck
from appointments.reference_data import refdata
from appointments.terminations import files
from appointments.terminations.schemas import (
    ManualTaskOut,
    TerminationImportOut,
    TerminationImportRowPage,
    TerminationsSubmitted,
)
from appointments.terminations.tasks import complete_task, list_tasks
from appointments.web import bulk_file_view, csv_response, found, read_upload

router = APIRouter(prefix="/api")


@router.get("/termination-imports/template.csv", tags=["bulk terminate"])
async def termination_template(_user: Annotated[User, require("appointments:terminate")]) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.TERMINATION_COLUMNS, []), "terminate_template.csv")


@router.get("/termination-imports/termination-reason-key.csv", tags=["bulk terminate"])
async def termination_key(session: Session, _user: Annotated[User, require("appointments:terminate")]) -> Response:
    ref = await refdata.snapshot(session)
    rows = [[st, code, desc, "yes" if ref.default_termination.get(st) == code else ""]
            for st, codes in sorted(ref.termination_codes.items()) for code, desc in sorted(codes.items())]
    return csv_response(rowcheck.to_csv(("State", "Termination Reason Code", "Description", "State default"), rows),
                        "termination_reason_key.csv")


@router.post("/termination-imports", status_code=201, tags=["bulk terminate"], response_model=TerminationImportOut,
             response_model_exclude_unset=True)
async def upload_terminations(runtime: Runtime, session: Session, file: Annotated[UploadFile, File()],
                              user: Annotated[User, require("appointments:terminate")]) -> dict[str, Any]:
    content = await read_upload(runtime, file)
    async with runtime.uow(actor=user.login) as tx:
        imp = await files.parse_termination_file(tx, file.filename or "upload.csv", content)
    return await bulk_file_view(session, imp.id, "terminations")


@router.get("/termination-imports/{import_id}/invalid-rows.csv", tags=["bulk terminate"])
async def invalid_termination_rows(session: Session, import_id: str, _user: Annotated[User, require("appointments:view")]) -> Response:
    view = await bulk_file_view(session, import_id, "terminations")
    cols = rowcheck.TERMINATION_COLUMNS
    return csv_response(rowcheck.to_csv(("Line", *cols, "Errors"), [
        [r["line"], *[r["values"].get(c, "") for c in cols], " | ".join(r["errors"])]
        for r in view["rows"] if not r["valid"]]), "invalid_rows.csv")


@router.get("/termination-imports/{import_id}/rows", tags=["bulk terminate"], response_model=TerminationImportRowPage,
            response_model_exclude_unset=True)
async def termination_import_rows(session: Session, import_id: str, _user: Annotated[User, require("appointments:view")],
                                  limit: Annotated[int, Query(ge=1, le=1000)] = 200, offset: Offset = 0,
                                  rows: Annotated[str, Query(pattern="^(|errors|valid)$")] = "") -> dict[str, Any]:
    """One page of the file's rows by line with the total (``rows``: all, ``errors`` or ``valid``): what
    the result page reads, for a file too long to read in one answer."""
    _imp, listed = found(await import_page(session, import_id, "terminations", offset, limit, rows), "no such import")
    return listed.api()


@router.get("/termination-imports/{import_id}", tags=["bulk terminate"], response_model=TerminationImportOut,
            response_model_exclude_unset=True)
async def get_termination_import(session: Session, import_id: str, _user: Annotated[User, require("appointments:view")]) -> dict[str, Any]:
    return await bulk_file_view(session, import_id, "terminations")


class TerminationSubmit(BaseModel):
    immediate: bool = False  # the default: batches wait for review
    batch_size: int = Field(500, ge=1, le=10_000)


@router.post("/termination-imports/{import_id}/submit", tags=["bulk terminate"],
             response_model=TerminationsSubmitted, response_model_exclude_unset=True)
async def submit_terminations(runtime: Runtime, import_id: str,
                              user: Annotated[User, require("appointments:terminate")],
                              body: Annotated[TerminationSubmit | None, Body()] = None) -> dict[str, Any]:
    body = body or TerminationSubmit()
    async with runtime.uow(actor=user.login) as tx:
        result = await files.submit_termination_import(tx, import_id, immediate=body.immediate,
                                                         batch_size=body.batch_size)
    return {"import_id": import_id, **result}


@router.get("/manual-tasks", tags=["bulk terminate"], response_model=list[ManualTaskOut], response_model_exclude_unset=True)
async def manual_tasks(session: Session, _user: Annotated[User, require("appointments:view")],
                       status: Annotated[str | None, Query(pattern="^(open|done)$")] = "open") -> list[dict[str, Any]]:
    """Work the Gateway cannot do (a for-cause termination in a state that refuses it electronically)."""
    return [t.model_dump(mode="json") for t in await list_tasks(session, status)]


class TaskDone(BaseModel):
    note: str | None = Field(None, max_length=1000)


@router.post("/manual-tasks/{task_id}/done", tags=["bulk terminate"], response_model=ManualTaskOut,
             response_model_exclude_unset=True)
async def manual_task_done(runtime: Runtime, task_id: str, user: Annotated[User, require("appointments:terminate")],
                           body: Annotated[TaskDone | None, Body()] = None) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        task = await complete_task(tx, task_id, body.note if body else None)
        return task.model_dump(mode="json")
