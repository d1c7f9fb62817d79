"""The operations views' JSON API: event and dead-letter counts, each view's sections, CSV exports."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.tabular import csv_bytes
from agency_common.web.deps import Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from reporting.operations import queries
from reporting.operations.schemas import DeadLetterCountOut, EventCountOut, ViewOut

router = APIRouter(prefix="/api", tags=["reporting"])


@router.get("/operations/events", tags=["operations"], response_model=list[EventCountOut])
async def event_counts(session: Session, _user: Annotated[User, require("operations:view")]) -> list[dict[str, Any]]:
    return [{"topic": t, "event_type": e, "count": c} for t, e, c in await queries.event_counts(session)]


@router.get("/operations/dead-letters", tags=["operations"], response_model=list[DeadLetterCountOut])
async def dead_letter_counts(session: Session, _user: Annotated[User, require("operations:view")]) -> list[dict[str, Any]]:
    return [{"topic": r.topic, "count": r.count} for r in await queries.dead_letter_counts(session)]


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, int | str | None) else str(v)


@router.get("/operations/views/{view}", tags=["operations"], response_model=ViewOut)
async def operations_view(session: Session, view: str,
                          _user: Annotated[User, require("operations:view")]) -> dict[str, Any]:
    spec, sections = await queries.build_view(session, view)
    return {"view": spec.key, "title": spec.title, "sections": [
        {"key": s.key, "title": s.title, "note": s.note,
         "rows": [dict(zip(s.header, map(_jsonable, row), strict=True)) for row in s.rows]} for s in sections]}


@router.get("/operations/views/{view}/{section}.csv", tags=["operations"])
async def operations_csv(session: Session, view: str, section: str,
                         _user: Annotated[User, require("operations:view")]) -> StreamingResponse:
    """A view's section as CSV (cells that a spreadsheet would run as formulas are neutralised)."""
    spec, sections = await queries.build_view(session, view)
    found = queries.section_of(sections, section)
    return StreamingResponse(csv_bytes(found.header, found.rows), media_type="text/csv; charset=utf-8",
                             headers=attachment(f"{spec.key}-{found.key}.csv"))
