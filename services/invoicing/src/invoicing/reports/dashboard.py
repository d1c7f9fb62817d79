"""Pages: the printable reports."""

from __future__ import annotations

from agency_common.web import render
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from invoicing import errors
from invoicing.reports import remittance as reports
from invoicing.web import PageViewer

router = APIRouter(include_in_schema=False)


@router.get("/reconciliations/{rec_id}/reports/{kind}", response_class=HTMLResponse)
async def report(request: Request, rec_id: str, kind: str, user: PageViewer) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as s:
        try:
            rep = await reports.build(s, rec_id, kind, row_limit=reports.HTML_ROW_LIMIT)
        except errors.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
    return render(request, "report_print.html", report=rep, rec_id=rec_id, limit=reports.HTML_ROW_LIMIT)
