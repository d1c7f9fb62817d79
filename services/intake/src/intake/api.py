"""intake's JSON API. Routes only translate HTTP to use cases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import func, select

from agency_common.auth import CurrentUser, User, require
from intake.models import Policy
from intake.usecases import DuplicatePolicy, NewPolicy, create_policy, snapshot

router = APIRouter(prefix="/api", tags=["policies"])


@router.post("/policies", status_code=201)
async def create_policy_route(
    request: Request, body: NewPolicy, user: Annotated[User, require("policies:create")]
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    try:
        async with runtime.uow(actor=user.login) as tx:
            policy = await create_policy(tx, body)
    except DuplicatePolicy as exc:
        raise HTTPException(409, str(exc)) from None
    return snapshot(policy).model_dump(mode="json") | {"created_by": policy.created_by}


@router.get("/policies")
async def list_policies(
    request: Request,
    _user: CurrentUser,
    carrier: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    stmt = select(Policy)
    count = select(func.count()).select_from(Policy)
    if carrier:
        stmt, count = stmt.where(Policy.carrier == carrier), count.where(Policy.carrier == carrier)
    async with runtime.db.session() as session:
        total = await session.scalar(count)
        rows = (await session.execute(stmt.order_by(Policy.created_at.desc()).limit(limit).offset(offset))).scalars()
        items = [snapshot(p).model_dump(mode="json") | {"created_by": p.created_by} for p in rows]
    return {"total": total, "items": items}
