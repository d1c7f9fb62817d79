"""appointments' dashboard pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from agency_common.web import DashboardUser, render
from appointments.models import TransactionBatch

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, _user: DashboardUser) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as session:
        batches = (await session.execute(
            select(TransactionBatch).order_by(TransactionBatch.created_at.desc()).limit(50))).scalars().all()
    return render(request, "appointments_home.html", batches=batches)
