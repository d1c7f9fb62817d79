"""The reports of a reconciliation (JSON, CSV, or printable HTML)."""

from __future__ import annotations

from typing import Any, Literal

from agency_common.web import render
from agency_common.web.deps import Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from invoicing.reports import remittance as reports
from invoicing.reports.schemas import ReportOut
from invoicing.web import Viewer

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/reports/{kind}", response_model=ReportOut, response_model_exclude_unset=True,
            responses={200: {"content": {"text/csv": {}, "text/html": {}},
                             "description": "The report as JSON, CSV (``format=csv``) or a printable page (``format=html``)"}})
async def report(request: Request, session: Session, rec_id: str, kind: Literal["summary", "exceptions", "remittance"],
                 _user: Viewer, format: Literal["json", "csv", "html"] = "json") -> Any:
    rep = await reports.build(session, rec_id, kind, row_limit=reports.HTML_ROW_LIMIT if format == "html" else None)
    if format == "csv":
        return StreamingResponse(reports.to_csv(rep), media_type="text/csv; charset=utf-8",
                                 headers=attachment(f"{kind}-{rec_id}.csv"))
    if format == "html":
        return render(request, "report_print.html", report=rep, rec_id=rec_id, limit=reports.HTML_ROW_LIMIT)
    return reports.to_json(rep)
