"""Producers and bulk onboarding (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from appointments import models as m
from appointments.domain import rows as rowcheck
from appointments.domain.rows import FileError
from appointments.producers import onboarding
from appointments.producers.license_sync import request_license_sync
from appointments.producers.queries import producer_detail, producer_view
from appointments.producers.schemas import ImportProcessed, SyncRequested
from appointments.web import bulk_file_view, csv_response, found, read_upload, runtime

router = APIRouter(prefix="/api")


@router.get("/producers", tags=["producers"])
async def list_producers(request: Request, user: Annotated[User, require("producers:view")],
                         limit: int = 200) -> list[dict[str, Any]]:
    async with runtime(request).db.session() as session:
        rows = (await session.execute(select(m.Producer).order_by(m.Producer.last_name, m.Producer.npn)
                                      .limit(min(limit, 5000)))).scalars().all()
    return [producer_view(p, user, runtime(request).pii) for p in rows]


@router.get("/producers/{npn}", tags=["producers"])
async def get_producer(request: Request, npn: str, user: Annotated[User, require("producers:view")]) -> dict[str, Any]:
    async with runtime(request).db.session() as session:
        return found(await producer_detail(session, npn, user, runtime(request).pii), "no such producer")


@router.post("/producers/{npn}/sync", status_code=202, tags=["producers"], response_model=SyncRequested, response_model_exclude_unset=True)
async def sync_producer(request: Request, npn: str, user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    async with runtime(request).uow(actor=user.login) as tx:
        if await tx.session.scalar(select(m.Producer.id).where(m.Producer.npn == npn)) is None:
            raise HTTPException(404, "no such producer")
        await request_license_sync(tx, [npn])
    return {"npn": npn, "sync": "requested"}


@router.get("/producer-imports/template.csv", tags=["bulk onboarding"])
async def producer_template(_user: Annotated[User, require("producers:edit")]) -> Response:
    return csv_response(rowcheck.to_csv(rowcheck.ONBOARDING_COLUMNS, []), "agent_upload_template.csv")


@router.get("/producer-imports/accepted-values.csv", tags=["bulk onboarding"])
async def producer_accepted_values(request: Request, _user: Annotated[User, require("producers:edit")]) -> Response:
    async with runtime(request).db.session() as session:
        acc = await onboarding.accepted_values(session)
    columns = {"Agency NPN": sorted(acc.agency_npns), "LOA Category": acc.loa_categories, "States": acc.states,
               "Scorecard Type": acc.scorecard_types, "Agent Type": acc.agent_types, "CoCodes": acc.cocodes}
    depth = max(len(v) for v in columns.values())
    rows = [[(list(v)[i] if i < len(v) else "") for v in columns.values()] for i in range(depth)]
    return csv_response(rowcheck.to_csv(columns, rows), "accepted_values.csv")


@router.post("/producer-imports", status_code=201, tags=["bulk onboarding"])
async def upload_producers(request: Request, file: Annotated[UploadFile, File()],
                           user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    content = await read_upload(request, file)
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            imp = await onboarding.parse_producer_file(tx, file.filename or "upload.csv", content, runtime(request).pii)
    except FileError as exc:
        raise HTTPException(422, str(exc)) from None
    return await bulk_file_view(request, imp.id, "producers")


@router.get("/producer-imports/{import_id}", tags=["bulk onboarding"])
async def get_producer_import(request: Request, import_id: str, _user: Annotated[User, require("producers:view")]) -> dict[str, Any]:
    return await bulk_file_view(request, import_id, "producers")


@router.get("/producer-imports/{import_id}/invalid-rows.csv", tags=["bulk onboarding"])
async def invalid_producer_rows(request: Request, import_id: str, _user: Annotated[User, require("producers:view")]) -> Response:
    view = await bulk_file_view(request, import_id, "producers")
    bad = [r for r in view["rows"] if not r["valid"]]
    return csv_response(rowcheck.to_csv(("Line", *rowcheck.ONBOARDING_COLUMNS, "Errors"), [
        [r["line"], *[r["values"].get(c, "") for c in rowcheck.ONBOARDING_COLUMNS], " | ".join(r["errors"])]
        for r in bad]), "invalid_rows.csv")


@router.post("/producer-imports/{import_id}/process", tags=["bulk onboarding"], response_model=ImportProcessed,
             response_model_exclude_unset=True)
async def process_producers(request: Request, import_id: str,
                            user: Annotated[User, require("producers:edit")]) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            result = await onboarding.process_producer_import(tx, import_id)
    except LookupError:
        raise HTTPException(404, "no such import") from None
    return {"import_id": import_id, **result}
