"""Reconciliations, JSON: list, open, read, edit the header, the abort preview."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Query

from invoicing.errors import NotFound
from invoicing.models import Reconciliation
from invoicing.reconciliations import queries as rec_queries
from invoicing.reconciliations import schemas as rec_schemas
from invoicing.reconciliations import status as rec_status
from invoicing.reconciliations import usecases as rec_uc
from invoicing.web import Editor, Viewer

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations", response_model=rec_schemas.ReconciliationPage, response_model_exclude_unset=True)
async def list_reconciliations(
    session: Session, _user: Viewer, filters: Annotated[rec_queries.ReconciliationFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Filtered by status, carrier, date booked (``date_from``, ``date_to``) and statement, sorted by
    ``sort`` and ``order`` (newest first without), with the total of every match."""
    total, rows = await rec_queries.list_reconciliations(session, filters, limit, offset)
    return {"total": total, "items": [r.model_dump(mode="json") for r in rows]}


@router.post("/reconciliations", status_code=201, response_model=rec_schemas.HeaderOut, response_model_exclude_unset=True)
async def open_reconciliation(runtime: Runtime, data: rec_schemas.NewReconciliation, user: Editor) -> dict[str, Any]:
    today = rec_uc.business_today(runtime.settings.business_timezone)
    async with runtime.uow(actor=user.login) as tx:
        return await rec_uc.open_reconciliation(tx, data, today)


@router.get("/reconciliations/{rec_id}", response_model=rec_schemas.HeaderOut, response_model_exclude_unset=True)
async def get_reconciliation(session: Session, rec_id: str, _user: Viewer) -> dict[str, Any]:
    rec = await session.get(Reconciliation, rec_id)
    if rec is None:
        raise NotFound(f"reconciliation {rec_id} not found")
    return rec_status.header(rec, await rec_status.totals(session, rec))


@router.patch("/reconciliations/{rec_id}", response_model=rec_schemas.HeaderOut, response_model_exclude_unset=True)
async def edit_reconciliation(runtime: Runtime, rec_id: str, data: rec_schemas.HeaderEdit, user: Editor) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await rec_uc.edit_header(tx, rec_id, data)


@router.get("/reconciliations/{rec_id}/abort-preview", response_model=rec_schemas.AbortPreviewOut,
             response_model_exclude_unset=True)
async def abort_preview(session: Session, rec_id: str, _user: Viewer) -> dict[str, Any]:
    """What an abort leaves posted (and offers to the carrier's next reconciliation), in words."""
    rec = await session.get(Reconciliation, rec_id)
    if rec is None:
        raise NotFound(f"reconciliation {rec_id} not found")
    preview = await rec_uc.abort_preview(session, rec)
    return {**preview, "balance": str(preview["balance"])}
