"""Portals and portal invites (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter
from pydantic import BaseModel, Field

from appointments.portals import portals
from appointments.portals.schemas import InviteOut, PortalOut

router = APIRouter(prefix="/api")


@router.get("/portals", tags=["portals"], response_model=list[PortalOut], response_model_exclude_unset=True)
async def list_portals(session: Session, _user: Annotated[User, require("producers:view")]) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in await portals.list_portals(session)]


class InviteBody(BaseModel):
    portal_id: str
    producer_ids: list[str] = Field(min_length=1, max_length=5000)


@router.post("/portal-invites", tags=["portals"], response_model=InviteOut, response_model_exclude_unset=True)
async def invite_route(runtime: Runtime, body: InviteBody,
                       user: Annotated[User, require("portals:invite")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await portals.invite(tx, body.portal_id, body.producer_ids)
