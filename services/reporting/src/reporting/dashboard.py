"""reporting's dashboard pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agency_common.web import DashboardUser, render
from reporting.api import dead_letter_counts, event_counts

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: DashboardUser) -> HTMLResponse:
    events = await event_counts(request, user)
    dead = await dead_letter_counts(request, user)
    return render(request, "reporting_home.html", events=events, dead=dead)
