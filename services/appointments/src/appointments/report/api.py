"""The appointments report (JSON page or CSV export)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Offset, Runtime, Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from appointments.report import report
from appointments.report.schemas import ReportPage
from appointments.web import record_export

router = APIRouter(prefix="/api")


@router.get("/appointments", tags=["appointments report"], response_model=ReportPage, response_model_exclude_unset=True)
async def appointments_report(runtime: Runtime, session: Session, user: Annotated[User, require("appointments:view")],
                              cocode: str | None = None, status: str | None = None,
                              line_of_authority: str | None = None, state: str | None = None,
                              format: str = "json", offset: Offset = 0,
                              limit: Annotated[int, Query(ge=1, le=1000)] = report.PAGE_SIZE) -> Any:
    """One page of the report with the total (``{total, offset, limit, items}``); ``format=csv``
    exports every matching row (streamed), in the columns the termination file accepts; producers'
    names are in it, so the export is recorded (``pii.exported``, the rows matching when it starts)."""
    f = report.Filters(cocode, status, line_of_authority, state)
    if format == "csv":
        await record_export(runtime, user, "appointments-report", await report.count(session, f), report.COLUMNS,
                            report.PII_COLUMNS, filters={k: v for k, v in vars(f).items() if v})
        return StreamingResponse(report.export(runtime.db, f), media_type="text/csv; charset=utf-8",
                                 headers=attachment("appointments.csv"))
    return await report.page(session, f, offset, limit)
