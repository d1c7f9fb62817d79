"""The carriers' JSON route (the pick list a reconciliation is opened against)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from fastapi import APIRouter, Request

from invoicing.policy_view.carriers import pick_list

router = APIRouter(prefix="/api", tags=["carriers"])


@router.get("/carriers")
async def carriers(request: Request, _user: Annotated[User, require("reconciliations:view")]) -> dict[str, Any]:
    """The carriers a reconciliation can be opened against, with their subordinates and addresses."""
    async with request.app.state.runtime.db.session() as s:
        items = await pick_list(s)
    return {"total": len(items), "items": items}
