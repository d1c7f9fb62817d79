"""The read model, JSON: intake's policies as invoicing knows them, and the carriers a reconciliation is opened against."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.web.deps import Offset, Session
from fastapi import APIRouter, Query
from sqlalchemy import func, select

from invoicing.errors import NotFound
from invoicing.models import PolicyView
from invoicing.policy_view.carriers import pick_list
from invoicing.policy_view.schemas import CarrierPickList, PolicyOut, PolicyPage
from invoicing.web import Viewer

router = APIRouter(prefix="/api")  # the tags of the routes kept from before the cut


@router.get("/carriers", tags=["carriers"], response_model=CarrierPickList, response_model_exclude_unset=True)
async def carriers(session: Session, _user: Viewer) -> dict[str, Any]:
    """The carriers a reconciliation can be opened against, with their subordinates and addresses."""
    items = await pick_list(session)
    return {"total": len(items), "items": items}


@router.get("/policies", tags=["invoicing"], response_model=PolicyPage, response_model_exclude_unset=True)
async def list_policies(
    session: Session, _user: Viewer, carrier: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    stmt, count = select(PolicyView), select(func.count()).select_from(PolicyView)
    if carrier:
        stmt, count = stmt.where(PolicyView.carrier == carrier), count.where(PolicyView.carrier == carrier)
    total = await session.scalar(count)
    rows = (await session.execute(stmt.order_by(PolicyView.policy_number).limit(limit).offset(offset))).scalars()
    return {"total": total, "items": [p.model_dump(mode="json") for p in rows]}


@router.get("/policies/{policy_id}", tags=["invoicing"], response_model=PolicyOut,
             response_model_exclude_unset=True)
async def get_policy(session: Session, policy_id: str, _user: Viewer) -> dict[str, Any]:
    policy = await session.get(PolicyView, policy_id)
    if policy is None:
        raise NotFound("policy not known to invoicing (yet)")
    return policy.model_dump(mode="json")
