"""The invoice list pages' filters, page size and rendering (unposted invoices and transactions)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from agency_common.web import render
from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.domain.commission import BILL_TYPES
from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.reconciliations.pages import page_header
from invoicing.web import PAGE, form_key


def invoice_filters(params: dict[str, Any]) -> tuple[invoice_schemas.InvoiceFilters, str | None]:
    raw = {k: v for k, v in params.items() if k in invoice_schemas.InvoiceFilters.model_fields and v not in ("", None)}
    try:
        return invoice_schemas.InvoiceFilters(**raw), None
    except ValidationError as exc:
        return invoice_schemas.InvoiceFilters(), "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())


def page_size(params: dict[str, Any]) -> int:
    """Rows per page: ``size`` (1 to 500), else the default."""
    raw = str(params.get("size") or "")
    return min(max(int(raw), 1), 500) if raw.isdigit() else PAGE


async def invoice_page(request: Request, session: AsyncSession, rec_id: str, template: str,
                       statuses: tuple[str, ...]) -> HTMLResponse:
    params = dict(request.query_params)
    filters, error = invoice_filters(params)
    page = max(int(params.get("page", 1) or 1), 1)
    size = page_size(params)
    result = await invoice_queries.list_invoices(session, rec_id, statuses, filters, size, (page - 1) * size)
    selection = await invoice_queries.selection_totals(session, rec_id)
    kept = {k: v for k, v in params.items() if k in invoice_schemas.InvoiceFilters.model_fields or k == "size"}
    return render(request, template, rec=await page_header(session, rec_id), result=result, f=filters, page=page,
                  pages=(result["total"] + size - 1) // size, query=urlencode(kept), error=error or params.get("error"),
                  message=params.get("message"), key=form_key(), bill_types=BILL_TYPES,
                  sorts=list(invoice_queries.INVOICE_SORTS), selection=selection, size=size,
                  kept={k: v for k, v in kept.items() if v not in ("", None)})
