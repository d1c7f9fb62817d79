"""Invoices, JSON: the unposted invoice list, remove one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.invoices import usecases as invoice_uc
from invoicing.reconciliations.schemas import HeaderOut
from invoicing.web import Editor, Viewer, in_tx, translated

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/invoices", response_model=invoice_schemas.InvoicePage, response_model_exclude_unset=True)
async def list_invoices(
    request: Request, rec_id: str, _user: Viewer, filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
    status: Literal["unposted", "posted", "paid", "all"] = "unposted",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    statuses = ("unposted", "posted", "paid") if status == "all" else (status,)
    async with translated(), request.app.state.runtime.db.session() as s:
        return await invoice_queries.list_invoices(s, rec_id, statuses, filters, limit, offset)


@router.delete("/reconciliations/{rec_id}/invoices/{invoice_id}", response_model=HeaderOut, response_model_exclude_unset=True)
async def remove_invoice(request: Request, rec_id: str, invoice_id: int, user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, invoice_uc.remove_invoice, rec_id, invoice_id)
