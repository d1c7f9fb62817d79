"""The carrier registry's JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from fastapi import APIRouter, HTTPException, Query, Request

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
from intake.errors import UseCaseError

router = APIRouter(prefix="/api/carriers", tags=["carriers"])


def _fail(exc: UseCaseError) -> HTTPException:
    detail: Any = str(exc)
    if isinstance(exc, UnknownCarrier):
        detail = {"error": str(exc), "suggestions": exc.suggestions}
    return HTTPException(exc.status_code, detail)


@router.get("", response_model=CarrierPage, response_model_exclude_unset=True)
async def carriers(request: Request, _user: Annotated[User, require("carriers:view")],
                   q: Annotated[str | None, Query(max_length=200, description="name, alias or NAIC code")] = None,
                   include_inactive: bool = True,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as s:
        total, items = await list_carriers(s, q=q, include_inactive=include_inactive, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/resolve", response_model=CarrierOut, response_model_exclude_unset=True)
async def resolve(request: Request, _user: Annotated[User, require("carriers:view")],
                  name: Annotated[str, Query(max_length=200)]) -> dict[str, Any]:
    """The carrier a typed name means (case- and space-insensitive, by name or alias); 404 with the
    closest names when it means none."""
    async with request.app.state.runtime.db.session() as s:
        try:
            carrier = await require_carrier(s, name, for_new_work=False)
        except UnknownCarrier as exc:
            raise HTTPException(404, {"error": str(exc), "suggestions": exc.suggestions}) from None
        except UseCaseError as exc:
            raise _fail(exc) from None
        return carrier_json(*await get_carrier(s, carrier.id))


@router.get("/{carrier_id}", response_model=CarrierOut, response_model_exclude_unset=True)
async def carrier(request: Request, carrier_id: str, _user: Annotated[User, require("carriers:view")]) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as s:
        try:
            return carrier_json(*await get_carrier(s, carrier_id))
        except UseCaseError as exc:
            raise _fail(exc) from None


@router.post("", status_code=201, response_model=CarrierOut, response_model_exclude_unset=True)
async def register(request: Request, body: CarrierIn, user: Annotated[User, require("carriers:edit")]) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            return await register_carrier(tx, body)
    except UseCaseError as exc:
        raise _fail(exc) from None


@router.patch("/{carrier_id}", response_model=CarrierOut, response_model_exclude_unset=True)
async def edit(request: Request, carrier_id: str, body: CarrierEdit,
               user: Annotated[User, require("carriers:edit")]) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            return await update_carrier(tx, carrier_id, body)
    except UseCaseError as exc:
        raise _fail(exc) from None
