"""The statements JSON API: carrier profiles, uploads, lines, errors, re-matching, publishing."""

from __future__ import annotations

import json
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.tabular import TooLarge, csv_bytes
from agency_common.web.deps import Offset, Runtime, Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from sqlalchemy import func, select

from intake.errors import Conflict, NotFound
from intake.models import CarrierProfile, Statement, StatementLineRow
from intake.statements.book import rematch
from intake.statements.imports import DuplicateStatement, Imports
from intake.statements.publishing import publish_statement
from intake.statements.queries import line_conditions
from intake.statements.schemas import (
    DuplicateOut,
    LinePage,
    ProfileIn,
    ProfileOut,
    PublishRequest,
    StatementOut,
    StatementPage,
    error_rows,
    line_json,
    profile_json,
    statement_json,
)
from intake.statements.usecases import save_profile

router = APIRouter(prefix="/api", tags=["intake"])
LINES = StatementLineRow.__table__


@router.get("/carrier-profiles/{carrier}", response_model=ProfileOut, response_model_exclude_unset=True)
async def get_profile(session: Session, carrier: str, _user: Annotated[User, require("statements:view")]) -> dict[str, Any]:
    return profile_json(carrier, await session.get(CarrierProfile, carrier))


@router.put("/carrier-profiles/{carrier}", response_model=ProfileOut, response_model_exclude_unset=True)
async def put_profile(runtime: Runtime, carrier: str, body: ProfileIn,
                      user: Annotated[User, require("statements:import")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        row = await save_profile(tx, carrier, body)
    return profile_json(carrier, row)


@router.post("/statements", status_code=202, response_model=StatementOut, responses={
    409: {"model": DuplicateOut, "description": "this file was already imported for this carrier"}})
async def upload_statement(
    imports: Imports,
    user: Annotated[User, require("statements:import")],
    file: Annotated[UploadFile, File(description="CSV (comma, semicolon or tab) or XLSX")],
    carrier: Annotated[str, Form()],
    sheet: Annotated[str | None, Form()] = None,
    override: Annotated[bool, Form(description="re-import a file already imported for this carrier")] = False,
) -> JSONResponse:
    try:
        st = await imports.store_upload(file, file.filename or "statement", carrier, user.login,
                                        sheet=sheet, override=override)
    except DuplicateStatement as exc:
        return JSONResponse({"detail": str(exc), "first_import_id": exc.first_id}, status_code=409)
    except TooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    return JSONResponse(statement_json(st), status_code=202,
                        headers={"Location": f"/api/statements/{st.id}"})


@router.get("/statements", response_model=StatementPage, response_model_exclude_unset=True)
async def list_statements(session: Session, _user: Annotated[User, require("statements:view")],
                          carrier: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                          offset: Offset = 0) -> dict[str, Any]:
    conds = [Statement.carrier == carrier] if carrier else []
    total = await session.scalar(select(func.count()).select_from(Statement).where(*conds))
    rows = (await session.execute(select(Statement).where(*conds).order_by(Statement.created_at.desc())
                                  .limit(limit).offset(offset))).scalars().all()
    return {"total": total, "items": [statement_json(s) for s in rows]}


async def _statement(session: Any, statement_id: str) -> Statement:
    st = await session.get(Statement, statement_id)
    if st is None:
        raise NotFound("no such statement")
    return st


@router.get("/statements/{statement_id}", response_model=StatementOut, response_model_exclude_unset=True)
async def get_statement(session: Session, statement_id: str,
                        _user: Annotated[User, require("statements:view")]) -> dict[str, Any]:
    return statement_json(await _statement(session, statement_id))


@router.get("/statements/{statement_id}/lines", response_model=LinePage, response_model_exclude_unset=True)
async def statement_lines(
    session: Session, statement_id: str, _user: Annotated[User, require("statements:view")],
    validity: Annotated[str | None, Query(pattern="^(valid|invalid)$")] = None,
    match: Annotated[str | None, Query(pattern="^(matched|unmatched|ambiguous)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Offset = 0,
) -> dict[str, Any]:
    await _statement(session, statement_id)
    conds = line_conditions(statement_id, validity, match)
    total = await session.scalar(select(func.count()).select_from(LINES).where(*conds))
    rows = (await session.execute(select(LINES).where(*conds).order_by(LINES.c.line_no).limit(limit)
                                  .offset(offset))).mappings().all()
    return {"total": total, "items": [line_json(r) for r in rows]}


async def errors_csv_response(session: Any, st: Statement) -> StreamingResponse:
    rows = (await session.execute(select(LINES.c.line_no, LINES.c.raw, LINES.c.errors).where(
        LINES.c.statement_id == st.id, LINES.c.valid.is_(False)).order_by(LINES.c.line_no))).mappings().all()
    header = [h if h.strip() else f"column {i + 1}" for i, h in enumerate(json.loads(st.header or "[]"))]
    body = error_rows(header, [dict(r) for r in rows])
    name = f"{st.file_name.rsplit('.', 1)[0]}-errors.csv"
    return StreamingResponse(csv_bytes([*header, "Error line", "Error reasons"], body), media_type="text/csv",
                             headers=attachment(name))


@router.get("/statements/{statement_id}/errors.csv")
async def statement_errors_csv(session: Session, statement_id: str,
                               _user: Annotated[User, require("statements:view")]) -> StreamingResponse:
    return await errors_csv_response(session, await _statement(session, statement_id))


@router.get("/statements/{statement_id}/file")
async def statement_file(session: Session, statement_id: str,
                         _user: Annotated[User, require("statements:view")]) -> FileResponse:
    st = await _statement(session, statement_id)
    if not st.stored_path:
        raise NotFound("this statement came from a feed: there is no file")
    return FileResponse(st.stored_path, media_type="application/octet-stream", headers=attachment(st.file_name))


@router.post("/statements/{statement_id}/rematch", response_model=StatementOut, response_model_exclude_unset=True)
async def rematch_statement(runtime: Runtime, statement_id: str,
                            user: Annotated[User, require("statements:import")]) -> dict[str, Any]:
    async with runtime.db.session() as session:
        st = await _statement(session, statement_id)
    if st.status != "imported":
        raise Conflict(f"statement is {st.status}")
    async with runtime.uow(actor=user.login) as tx:
        await rematch(tx.session, statement_id, st.carrier)
    async with runtime.db.session() as session:  # a fresh read: the counts the re-match wrote
        return statement_json(await _statement(session, statement_id))


@router.post("/statements/{statement_id}/publish", response_model=StatementOut, response_model_exclude_unset=True)
async def publish_route(runtime: Runtime, statement_id: str, body: PublishRequest,
                        user: Annotated[User, require("statements:import")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        st = await publish_statement(tx, statement_id, body.exclude_unmatched)
    return statement_json(st)
