"""invoicing's dashboard pages."""

from __future__ import annotations

from agency_common.web import DashboardUser, render
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from invoicing.models import PolicyView

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, _user: DashboardUser) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(PolicyView))
        policies = (await session.execute(
            select(PolicyView).order_by(PolicyView.updated_at.desc()).limit(50))).scalars().all()
    return render(request, "invoicing_home.html", total=total, policies=policies)
