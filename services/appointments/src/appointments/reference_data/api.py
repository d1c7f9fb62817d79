"""Reference data (JSON): list, template, load a file or rows."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Body, File, UploadFile
from fastapi.responses import Response

from appointments.domain import rows as rowcheck
from appointments.errors import NotFound
from appointments.reference_data import refdata
from appointments.reference_data.schemas import Listing, RowsLoaded
from appointments.web import csv_response, read_upload

router = APIRouter(prefix="/api")


def _known(kind: str) -> refdata.Kind:
    if kind not in refdata.KINDS:
        raise NotFound("unknown reference data kind")
    return refdata.KINDS[kind]


@router.get("/reference-data/{kind}", tags=["reference data"], response_model=Listing, response_model_exclude_unset=True)
async def get_reference(session: Session, kind: str,
                        _user: Annotated[User, require("reference_data:view")]) -> list[dict[str, Any]]:
    _known(kind)
    return await refdata.listing(session, kind)


@router.get("/reference-data/{kind}/template.csv", tags=["reference data"])
async def reference_template(kind: str, _user: Annotated[User, require("reference_data:view")]) -> Response:
    return csv_response(rowcheck.to_csv(_known(kind).columns, []), f"{kind}.csv")


@router.post("/reference-data/{kind}", status_code=201, tags=["reference data"], response_model=RowsLoaded, response_model_exclude_unset=True)
async def load_reference(runtime: Runtime, kind: str, user: Annotated[User, require("reference_data:edit")],
                         file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    content = await read_upload(runtime, file)
    async with runtime.uow(actor=user.login) as tx:
        n = await refdata.load_rows(tx, kind, refdata.parse_file(kind, content, file.filename),
                                    source_default=f"upload {file.filename} by {user.login}")
    return {"kind": kind, "rows_loaded": n}


@router.post("/reference-data/{kind}/rows", status_code=201, tags=["reference data"],
             response_model=RowsLoaded, response_model_exclude_unset=True)
async def add_reference_rows(runtime: Runtime, kind: str, user: Annotated[User, require("reference_data:edit")],
                             rows: Annotated[list[dict[str, str]], Body()]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        n = await refdata.load_rows(tx, kind, [{k.lower(): str(v) for k, v in r.items()} for r in rows])
    return {"kind": kind, "rows_loaded": n}
