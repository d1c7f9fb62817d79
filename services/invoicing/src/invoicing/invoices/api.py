"""Invoices, JSON: the unposted invoice list, remove one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Query

from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.invoices import usecases as invoice_uc
from invoicing.reconciliations.schemas import HeaderOut
from invoicing.web import Editor, Viewer

router = APIRouter(prefix="/api", tags=["invoicing"])


@router.get("/reconciliations/{rec_id}/invoices", response_model=invoice_schemas.InvoicePage, response_model_exclude_unset=True)
async def list_invoices(
    session: Session, rec_id: str, _user: Viewer, filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
    status: Literal["unposted", "posted", "paid", "all"] = "unposted",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    statuses = ("unposted", "posted", "paid") if status == "all" else (status,)
    return await invoice_queries.list_invoices(session, rec_id, statuses, filters, limit, offset)


@router.delete("/reconciliations/{rec_id}/invoices/{invoice_id}", response_model=HeaderOut, response_model_exclude_unset=True)
async def remove_invoice(runtime: Runtime, rec_id: str, invoice_id: int, user: Editor) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await invoice_uc.remove_invoice(tx, rec_id, invoice_id)
