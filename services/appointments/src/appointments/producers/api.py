"""Producers and bulk onboarding (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from appointments.bulk_files import import_page
from appointments.domain import rows as rowcheck
from appointments.errors import NotFound
from appointments.producers import editing, onboarding
from appointments.producers.license_sync import request_license_sync
from appointments.producers.queries import (
    PII_FIELDS,
    producer_detail,
    producer_exists,
    producer_view,
    producers_page,
    revealed_npns,
)
from appointments.producers.schemas import (
    ImportOut,
    ImportProcessed,
    ImportRowPage,
    ProducerDetail,
    ProducerEdit,
    ProducerEdited,
    ProducerHistory,
    ProducerPage,
    SyncRequested,
)
from appointments.web import bulk_file_view, csv_response, found, read_upload, record_export, record_reveals

router = APIRouter(prefix="/api")


@router.get("/producers", tags=["producers"], response_model=ProducerPage, response_model_exclude_unset=True)
async def list_producers(runtime: Runtime, session: Session, user: Annotated[User, require("producers:view")],
                         limit: Annotated[int, Query(ge=1)] = 200, offset: Offset = 0,
                         sort: str = "name", q: str = "") -> dict[str, Any]:
    """One page of producers with the total (``{total, offset, limit, sort, items}``), by last name
    unless ``sort`` names a column (``-`` before it for descending); ``q`` an NPN or part of a last name."""
    found_page = await producers_page(session, offset, min(limit, 5000), sort, q)
    views = [producer_view(p, user, runtime.pii) for p in found_page.items]
    await record_reveals(runtime, user, revealed_npns(user, views), PII_FIELDS)
    return found_page.api(views)


@router.get("/producers/{npn}", tags=["producers"], response_model=ProducerDetail, response_model_exclude_unset=True)
async def get_producer(runtime: Runtime, session: Session, npn: str,
                       user: Annotated[User, require("producers:view")]) -> dict[str, Any]:
    view = found(await producer_detail(session, npn, user, runtime.pii), "no such producer")
    await record_reveals(runtime, user, revealed_npns(user, [view]), PII_FIELDS)
    return view


@router.patch("/producers/{npn}", tags=["producers"], response_model=ProducerEdited, response_model_exclude_unset=True)
async def edit_producer(runtime: Runtime, session: Session, npn: str, body: ProducerEdit,
                        user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    """Change a producer's contact, email, addresses, agency (``agency_npn``) or agent type: every field
    checked (422 with ``errors`` by field, nothing changed), what differs changed and recorded in its
    history (``GET /api/producers/{npn}/history``)."""
    async with runtime.uow(actor=user.login) as tx:
        out = await editing.edit_producer(tx, npn, body.model_dump(exclude_unset=True), runtime.pii)
    view = found(await producer_detail(session, npn, user, runtime.pii), "no such producer")
    await record_reveals(runtime, user, revealed_npns(user, [view]), PII_FIELDS)
    return out | {"producer": view}


@router.get("/producers/{npn}/history", tags=["producers"], response_model=ProducerHistory,
            response_model_exclude_unset=True)
async def producer_history(runtime: Runtime, session: Session, npn: str,
                           _user: Annotated[User, require("producers:view")],
                           limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0) -> dict[str, Any]:
    """The producer's changes, newest first (who, when, from where, each field before and after)."""
    total, items = await editing.history(session, runtime.tables.audit_log, npn, runtime.pii, offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.post("/producers/{npn}/sync", status_code=202, tags=["producers"], response_model=SyncRequested, response_model_exclude_unset=True)
async def sync_producer(runtime: Runtime, npn: str, user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        if not await producer_exists(tx.session, npn):
            raise NotFound("no such producer")
        await request_license_sync(tx, [npn])
    return {"npn": npn, "sync": "requested"}


@router.get("/producer-imports/template.csv", tags=["bulk onboarding"])
async def producer_template(_user: Annotated[User, require("producers:edit")]) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.ONBOARDING_COLUMNS, []), "agent_upload_template.csv")


@router.get("/producer-imports/accepted-values.csv", tags=["bulk onboarding"])
async def producer_accepted_values(session: Session, _user: Annotated[User, require("producers:edit")]) -> Response:
    acc = await onboarding.accepted_values(session)
    columns = {"Agency NPN": sorted(acc.agency_npns), "LOA Category": acc.loa_categories, "States": acc.states,
               "Scorecard Type": acc.scorecard_types, "Agent Type": acc.agent_types, "CoCodes": acc.cocodes}
    depth = max(len(v) for v in columns.values())
    rows = [[(list(v)[i] if i < len(v) else "") for v in columns.values()] for i in range(depth)]
    return csv_response(rowcheck.to_csv(columns, rows), "accepted_values.csv")


@router.post("/producer-imports", status_code=201, tags=["bulk onboarding"], response_model=ImportOut,
             response_model_exclude_unset=True)
async def upload_producers(runtime: Runtime, session: Session, file: Annotated[UploadFile, File()],
                           user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    content = await read_upload(runtime, file)
    async with runtime.uow(actor=user.login) as tx:
        imp = await onboarding.parse_producer_file(tx, file.filename or "upload.csv", content, runtime.pii)
    return await bulk_file_view(session, imp.id, "producers")


@router.get("/producer-imports/{import_id}", tags=["bulk onboarding"], response_model=ImportOut,
            response_model_exclude_unset=True)
async def get_producer_import(session: Session, import_id: str,
                              _user: Annotated[User, require("producers:view")]) -> dict[str, Any]:
    return await bulk_file_view(session, import_id, "producers")


@router.get("/producer-imports/{import_id}/rows", tags=["bulk onboarding"], response_model=ImportRowPage,
            response_model_exclude_unset=True)
async def producer_import_rows(session: Session, import_id: str, _user: Annotated[User, require("producers:view")],
                               limit: Annotated[int, Query(ge=1, le=1000)] = 200, offset: Offset = 0,
                               rows: Annotated[str, Query(pattern="^(|errors|valid)$")] = "") -> dict[str, Any]:
    """One page of the file's rows by line with the total (``rows``: all, ``errors`` or ``valid``): what
    the result page reads, for a file too long to read in one answer."""
    _imp, listed = found(await import_page(session, import_id, "producers", offset, limit, rows), "no such import")
    return listed.api()


@router.get("/producer-imports/{import_id}/invalid-rows.csv", tags=["bulk onboarding"])
async def invalid_producer_rows(runtime: Runtime, session: Session, import_id: str,
                                user: Annotated[User, require("producers:view")]) -> Response:
    """The rows with errors, as uploaded but the SSN masked: names and emails are PII, so the
    download is recorded (``pii.exported``)."""
    view = await bulk_file_view(session, import_id, "producers")
    bad = [r for r in view["rows"] if not r["valid"]]
    await record_export(runtime, user, "producer-import-invalid-rows", len(bad), rowcheck.ONBOARDING_COLUMNS,
                        rowcheck.ONBOARDING_PII_COLUMNS, import_id=import_id, masked=["Agent SSN"])
    return csv_response(rowcheck.to_csv(("Line", *rowcheck.ONBOARDING_COLUMNS, "Errors"), [
        [r["line"], *[r["values"].get(c, "") for c in rowcheck.ONBOARDING_COLUMNS], " | ".join(r["errors"])]
        for r in bad]), "invalid_rows.csv")


@router.post("/producer-imports/{import_id}/process", tags=["bulk onboarding"], response_model=ImportProcessed,
             response_model_exclude_unset=True)
async def process_producers(runtime: Runtime, import_id: str,
                            user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        result = await onboarding.process_producer_import(tx, import_id, runtime.pii)
    return {"import_id": import_id, **result}
