"""intake's dashboard pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from agency_common.web import DashboardUser, render
from intake.models import Policy
from intake.usecases import DuplicatePolicy, NewPolicy, create_policy

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: DashboardUser, error: str | None = None) -> HTMLResponse:
    runtime = request.app.state.runtime
    async with runtime.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Policy))
        recent = (await session.execute(select(Policy).order_by(Policy.created_at.desc()).limit(50))).scalars().all()
    return render(request, "intake_home.html", total=total, policies=recent, error=error,
                  can_create=user.can("policies:create"))


@router.post("/policies")
async def create_policy_form(
    request: Request,
    user: DashboardUser,
    carrier: Annotated[str, Form()],
    policy_number: Annotated[str, Form()],
    client_name: Annotated[str, Form()],
    line_of_business: Annotated[str, Form()] = "",
) -> Response:
    runtime = request.app.state.runtime
    if not user.can("policies:create"):
        return await home(request, user, error="You do not have the policies:create permission.")
    try:
        data = NewPolicy(carrier=carrier, policy_number=policy_number, client_name=client_name,
                         line_of_business=line_of_business or None)
        async with runtime.uow(actor=user.login) as tx:
            await create_policy(tx, data)
    except (ValidationError, DuplicatePolicy) as exc:
        return await home(request, user, error=str(exc))
    return RedirectResponse("/", status_code=303)
