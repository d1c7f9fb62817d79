"""Statement entry, JSON: search, bulk save, select, confirm duplicates, reset, people commissions and defaults."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from invoicing.statement_entry import duplicates
from invoicing.statement_entry import people as people_uc
from invoicing.statement_entry import queries as entry_queries
from invoicing.statement_entry import schemas as entry_schemas
from invoicing.statement_entry import usecases as entry_uc
from invoicing.statement_entry.schemas import EntriesSave, SelectBody
from invoicing.web import DuplicateOverrider, Editor, IdemKey, Viewer, in_tx, translated

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/entries")
async def list_entries(
    request: Request, rec_id: str, _user: Viewer, filters: Annotated[entry_schemas.EntryFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    async with translated(), request.app.state.runtime.db.session() as s:
        return await entry_queries.search_entries(s, rec_id, filters, limit, offset)


@router.patch("/reconciliations/{rec_id}/entries")
async def save_entries(request: Request, rec_id: str, body: EntriesSave, user: Editor,
                       key: IdemKey = None) -> dict[str, Any]:
    return await in_tx(request, user, entry_uc.save_entries, rec_id, body.items, key)


@router.post("/reconciliations/{rec_id}/entries/select")
async def select_entries(request: Request, rec_id: str, body: SelectBody, user: Editor,
                         filters: Annotated[entry_schemas.EntryFilters, Query()]) -> dict[str, Any]:
    if body.ids is None and not body.all_matching:
        raise HTTPException(422, "give ids, or all_matching with the filters")
    return await in_tx(request, user, entry_uc.select_entries, rec_id, body.selected, body.ids,
                       filters if body.all_matching else None)


@router.post("/reconciliations/{rec_id}/entries/confirm-duplicates")
async def confirm_duplicates(request: Request, rec_id: str, body: entry_schemas.DuplicateConfirmation,
                             user: DuplicateOverrider) -> dict[str, Any]:
    """Invoice again rows flagged "already invoiced / paid in reconciliation N" (per row or the
    selection); the confirmation records the user."""
    return await in_tx(request, user, duplicates.confirm_duplicates, rec_id, body)


@router.post("/reconciliations/{rec_id}/entries/reset-amounts")
async def reset_amounts(request: Request, rec_id: str, user: Editor,
                        filters: Annotated[entry_schemas.EntryFilters, Query()]) -> dict[str, Any]:
    return await in_tx(request, user, entry_uc.reset_amounts, rec_id, filters)


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/other-commissions", status_code=201)
async def add_other_commission(request: Request, rec_id: str, entry_id: int, data: entry_schemas.OtherCommissionIn,
                               user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, people_uc.add_other_commission, rec_id, entry_id, data)


@router.delete("/reconciliations/{rec_id}/other-commissions/{other_id}", status_code=204)
async def remove_other_commission(request: Request, rec_id: str, other_id: int, user: Editor) -> None:
    await in_tx(request, user, people_uc.remove_other_commission, rec_id, other_id)


@router.put("/carriers/{carrier}/people-commission-defaults/{employee}")
async def set_people_default(request: Request, carrier: str, employee: str, data: entry_schemas.PeopleDefaultIn,
                             user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, people_uc.set_people_default, carrier, employee, data)
