"""invoicing's JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import func, select

from agency_common.auth import CurrentUser
from invoicing.models import PolicyView

router = APIRouter(prefix="/api", tags=["policies"])


def _public(p: PolicyView) -> dict[str, Any]:
    return p.model_dump(mode="json")


@router.get("/policies")
async def list_policies(
    request: Request,
    _user: CurrentUser,
    carrier: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    stmt, count = select(PolicyView), select(func.count()).select_from(PolicyView)
    if carrier:
        stmt, count = stmt.where(PolicyView.carrier == carrier), count.where(PolicyView.carrier == carrier)
    async with runtime.db.session() as session:
        total = await session.scalar(count)
        rows = (await session.execute(stmt.order_by(PolicyView.policy_number).limit(limit).offset(offset))).scalars()
        return {"total": total, "items": [_public(p) for p in rows]}


@router.get("/policies/{policy_id}")
async def get_policy(request: Request, policy_id: str, _user: CurrentUser) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as session:
        policy = await session.get(PolicyView, policy_id)
    if policy is None:
        raise HTTPException(404, "policy not known to invoicing (yet)")
    return _public(policy)
