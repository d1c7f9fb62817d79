"""Transactions – direct bill, JSON: list, edit, select all."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Query

from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.payments import usecases as pay_uc
from invoicing.payments.schemas import ChangedOut, TransactionPage, TransactionsSave
from invoicing.web import Payer, Viewer

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/transactions", response_model=TransactionPage, response_model_exclude_unset=True)
async def list_transactions(
    session: Session, rec_id: str, _user: Viewer, filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    listed = await invoice_queries.list_invoices(session, rec_id, ("posted", "paid"), filters, limit, offset)
    return {**listed, **await invoice_queries.selection_totals(session, rec_id)}


@router.patch("/reconciliations/{rec_id}/transactions", response_model=ChangedOut, response_model_exclude_unset=True)
async def edit_transactions(runtime: Runtime, rec_id: str, body: TransactionsSave, user: Payer) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await pay_uc.edit_transactions(tx, rec_id, body.items)


@router.post("/reconciliations/{rec_id}/transactions/select-all", response_model=ChangedOut, response_model_exclude_unset=True)
async def select_all_transactions(runtime: Runtime, rec_id: str, user: Payer,
                                  filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
                                  selected: bool = True) -> dict[str, Any]:
    """Select (Received = Balance) or clear every posted, unpaid invoice the filters find, on every page."""
    async with runtime.uow(actor=user.login) as tx:
        return await pay_uc.select_all_transactions(tx, rec_id, selected, filters)
