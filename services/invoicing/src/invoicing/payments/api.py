"""Transactions – direct bill, JSON: list, edit, select all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.payments import usecases as pay_uc
from invoicing.payments.schemas import ChangedOut, TransactionPage, TransactionsSave
from invoicing.web import Payer, Viewer, in_tx, translated

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/transactions", response_model=TransactionPage, response_model_exclude_unset=True)
async def list_transactions(
    request: Request, rec_id: str, _user: Viewer, filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    async with translated(), request.app.state.runtime.db.session() as s:
        listed = await invoice_queries.list_invoices(s, rec_id, ("posted", "paid"), filters, limit, offset)
        return {**listed, **await invoice_queries.selection_totals(s, rec_id)}


@router.patch("/reconciliations/{rec_id}/transactions", response_model=ChangedOut, response_model_exclude_unset=True)
async def edit_transactions(request: Request, rec_id: str, body: TransactionsSave, user: Payer) -> dict[str, Any]:
    return await in_tx(request, user, pay_uc.edit_transactions, rec_id, body.items)


@router.post("/reconciliations/{rec_id}/transactions/select-all", response_model=ChangedOut, response_model_exclude_unset=True)
async def select_all_transactions(request: Request, rec_id: str, user: Payer,
                                  filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
                                  selected: bool = True) -> dict[str, Any]:
    """Select (Received = Balance) or clear every posted, unpaid invoice the filters find, on every page."""
    return await in_tx(request, user, pay_uc.select_all_transactions, rec_id, selected, filters)
