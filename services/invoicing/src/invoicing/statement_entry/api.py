"""Statement entry, JSON: search, bulk save, select, confirm duplicates, reset, people commissions and defaults."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common import errors as common_errors
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Query

from invoicing.statement_entry import duplicates
from invoicing.statement_entry import people as people_uc
from invoicing.statement_entry import queries as entry_queries
from invoicing.statement_entry import schemas as entry_schemas
from invoicing.statement_entry import usecases as entry_uc
from invoicing.statement_entry.schemas import EntriesSave, SelectBody
from invoicing.web import DuplicateOverrider, Editor, IdemKey, Viewer

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/entries", response_model=entry_schemas.EntryPage, response_model_exclude_unset=True)
async def list_entries(
    session: Session, rec_id: str, _user: Viewer, filters: Annotated[entry_schemas.EntryFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    return await entry_queries.search_entries(session, rec_id, filters, limit, offset)


@router.patch("/reconciliations/{rec_id}/entries", response_model=entry_schemas.EntriesSaved, response_model_exclude_unset=True)
async def save_entries(runtime: Runtime, rec_id: str, body: EntriesSave, user: Editor,
                       key: IdemKey = None) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await entry_uc.save_entries(tx, rec_id, body.items, key)


@router.post("/reconciliations/{rec_id}/entries/select", response_model=entry_schemas.EntriesChanged,
             response_model_exclude_unset=True)
async def select_entries(runtime: Runtime, rec_id: str, body: SelectBody, user: Editor,
                         filters: Annotated[entry_schemas.EntryFilters, Query()]) -> dict[str, Any]:
    if body.ids is None and not body.all_matching:
        raise common_errors.Invalid("give ids, or all_matching with the filters")
    async with runtime.uow(actor=user.login) as tx:
        return await entry_uc.select_entries(tx, rec_id, body.selected, body.ids,
                                             filters if body.all_matching else None)


@router.post("/reconciliations/{rec_id}/entries/confirm-duplicates", response_model=entry_schemas.DuplicatesConfirmed,
             response_model_exclude_unset=True)
async def confirm_duplicates(runtime: Runtime, rec_id: str, body: entry_schemas.DuplicateConfirmation,
                             user: DuplicateOverrider) -> dict[str, Any]:
    """Invoice again rows flagged "already invoiced / paid in reconciliation N" (per row or the
    selection); the confirmation records the user."""
    async with runtime.uow(actor=user.login) as tx:
        return await duplicates.confirm_duplicates(tx, rec_id, body)


@router.post("/reconciliations/{rec_id}/entries/reset-amounts", response_model=entry_schemas.AmountsReset,
             response_model_exclude_unset=True)
async def reset_amounts(runtime: Runtime, rec_id: str, user: Editor,
                        filters: Annotated[entry_schemas.EntryFilters, Query()]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await entry_uc.reset_amounts(tx, rec_id, filters)


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/other-commissions", status_code=201,
             response_model=entry_schemas.OtherCommissionOut, response_model_exclude_unset=True)
async def add_other_commission(runtime: Runtime, rec_id: str, entry_id: int, data: entry_schemas.OtherCommissionIn,
                               user: Editor) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await people_uc.add_other_commission(tx, rec_id, entry_id, data)


@router.delete("/reconciliations/{rec_id}/other-commissions/{other_id}", status_code=204)
async def remove_other_commission(runtime: Runtime, rec_id: str, other_id: int, user: Editor) -> None:
    async with runtime.uow(actor=user.login) as tx:
        await people_uc.remove_other_commission(tx, rec_id, other_id)


@router.put("/carriers/{carrier}/people-commission-defaults/{employee}", response_model=entry_schemas.PeopleDefaultOut,
            response_model_exclude_unset=True)
async def set_people_default(runtime: Runtime, carrier: str, employee: str, data: entry_schemas.PeopleDefaultIn,
                             user: Editor) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await people_uc.set_people_default(tx, carrier, employee, data)
