"""The appointments report page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from appointments.report import report

router = APIRouter(include_in_schema=False)


@router.get("/report", response_class=HTMLResponse)
async def report_page(request: Request, session: Session, _user: Annotated[User, page_permission("appointments:view")], cocode: str = "", status: str = "Appointed",
                      line_of_authority: str = "", state: str = "", page: int = 1) -> HTMLResponse:
    f = report.Filters(cocode or None, status or None, line_of_authority or None, state or None)
    size = report.PAGE_SIZE
    pages = max(1, -(-(await report.count(session, f)) // size))
    page = min(max(1, page), pages)
    result = await report.page(session, f, (page - 1) * size, size)
    query = urlencode({"cocode": cocode, "status": status, "line_of_authority": line_of_authority, "state": state})
    return render(request, "report.html", rows=result["items"], total=result["total"], page=page, pages=pages,
                  first_row=result["offset"] + 1, last_row=result["offset"] + len(result["items"]), query=query,
                  f={"cocode": cocode, "status": status, "line_of_authority": line_of_authority, "state": state})
