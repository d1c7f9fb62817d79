"""Portals and portal invites (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from appointments import models as m
from appointments.portals import portals
from appointments.portals.schemas import InviteOut, PortalOut
from appointments.web import runtime

router = APIRouter(prefix="/api")


@router.get("/portals", tags=["portals"], response_model=list[PortalOut], response_model_exclude_unset=True)
async def list_portals(request: Request, _user: Annotated[User, require("producers:view")]) -> list[dict[str, Any]]:
    async with runtime(request).db.session() as session:
        return [p.model_dump(mode="json") for p in (await session.execute(select(m.Portal))).scalars()]


class InviteBody(BaseModel):
    portal_id: str
    producer_ids: list[str] = Field(min_length=1, max_length=5000)


@router.post("/portal-invites", tags=["portals"], response_model=InviteOut, response_model_exclude_unset=True)
async def invite_route(request: Request, body: InviteBody,
                       user: Annotated[User, require("portals:invite")]) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            return await portals.invite(tx, body.portal_id, body.producer_ids)
    except LookupError:
        raise HTTPException(404, "no such portal") from None
