"""Pages: the printable reports."""

from __future__ import annotations

from agency_common.web import render
from agency_common.web.deps import Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from invoicing.reports import remittance as reports
from invoicing.web import PageViewer

router = APIRouter(include_in_schema=False)


@router.get("/reconciliations/{rec_id}/reports/{kind}", response_class=HTMLResponse)
async def report(request: Request, session: Session, rec_id: str, kind: str, user: PageViewer) -> HTMLResponse:
    rep = await reports.build(session, rec_id, kind, row_limit=reports.HTML_ROW_LIMIT)
    return render(request, "report_print.html", report=rep, rec_id=rec_id, limit=reports.HTML_ROW_LIMIT)
