"""The carrier registry's JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Query

from intake.carriers.registry import (
    CarrierEdit,
    CarrierIn,
    UnknownCarrier,
    carrier_json,
    get_carrier,
    list_carriers,
    register_carrier,
    require_carrier,
    update_carrier,
)
from intake.carriers.schemas import CarrierOut, CarrierPage
from intake.errors import Invalid, NotFound

router = APIRouter(prefix="/api/carriers", tags=["carriers"])


@contextmanager
def suggesting_names() -> Iterator[None]:
    """An unknown carrier answers with the closest registered names: ``{"error", "suggestions"}``."""
    try:
        yield
    except UnknownCarrier as exc:
        raise Invalid(str(exc), suggestions=exc.suggestions) from None


@router.get("", response_model=CarrierPage, response_model_exclude_unset=True)
async def carriers(session: Session, _user: Annotated[User, require("carriers:view")],
                   q: Annotated[str | None, Query(max_length=200, description="name, alias or NAIC code")] = None,
                   include_inactive: bool = True,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   offset: Offset = 0) -> dict[str, Any]:
    total, items = await list_carriers(session, q=q, include_inactive=include_inactive, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/resolve", response_model=CarrierOut, response_model_exclude_unset=True)
async def resolve(session: Session, _user: Annotated[User, require("carriers:view")],
                  name: Annotated[str, Query(max_length=200)]) -> dict[str, Any]:
    """The carrier a typed name means (case- and space-insensitive, by name or alias); 404 with the
    closest names when it means none."""
    try:
        carrier = await require_carrier(session, name, for_new_work=False)
    except UnknownCarrier as exc:
        raise NotFound(str(exc), suggestions=exc.suggestions) from None
    return carrier_json(*await get_carrier(session, carrier.id))


@router.get("/{carrier_id}", response_model=CarrierOut, response_model_exclude_unset=True)
async def carrier(session: Session, carrier_id: str, _user: Annotated[User, require("carriers:view")]) -> dict[str, Any]:
    return carrier_json(*await get_carrier(session, carrier_id))


@router.post("", status_code=201, response_model=CarrierOut, response_model_exclude_unset=True)
async def register(runtime: Runtime, body: CarrierIn, user: Annotated[User, require("carriers:edit")]) -> dict[str, Any]:
    with suggesting_names():
        async with runtime.uow(actor=user.login) as tx:
            return await register_carrier(tx, body)


@router.patch("/{carrier_id}", response_model=CarrierOut, response_model_exclude_unset=True)
async def edit(runtime: Runtime, carrier_id: str, body: CarrierEdit,
               user: Annotated[User, require("carriers:edit")]) -> dict[str, Any]:
    with suggesting_names():
        async with runtime.uow(actor=user.login) as tx:
            return await update_carrier(tx, carrier_id, body)
