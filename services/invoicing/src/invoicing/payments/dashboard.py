"""Pages: Transactions – direct bill (ticks, select all)."""

from __future__ import annotations

from agency_common.web import render
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from invoicing.errors import NotFound
from invoicing.invoices import queries as invoice_queries
from invoicing.invoices.pages import invoice_filters, invoice_page
from invoicing.payments import schemas as pay_schemas
from invoicing.payments import usecases as pay_uc
from invoicing.reconciliations.pages import page_header
from invoicing.web import PagePayer, PageViewer, back, page_action

router = APIRouter(include_in_schema=False)


@router.get("/reconciliations/{rec_id}/transactions", response_class=HTMLResponse)
async def transactions(request: Request, session: Session, rec_id: str, user: PageViewer) -> HTMLResponse:
    return await invoice_page(request, session, rec_id, "transactions.html", ("posted", "paid"))


@router.post("/reconciliations/{rec_id}/transactions/select-all")
async def select_all(request: Request, runtime: Runtime, rec_id: str, user: PagePayer) -> Response:
    """Select (Received = Balance) or clear every posted, unpaid invoice the current filters find,
    on every page (``selected`` 1 or 0; the filters come as ``q-`` fields)."""
    form = dict(await request.form())
    params = {k[2:]: v for k, v in form.items() if k.startswith("q-")}
    filters, error = invoice_filters(params)
    if error:
        return back(f"/reconciliations/{rec_id}/transactions", error=error)
    selected = form.get("selected", "1") == "1"
    result = await page_action(runtime, rec_id, user, pay_uc.select_all_transactions, selected, filters)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/transactions", error=result, **params)
    words = f"{result['changed']} selected, Received = Balance." if selected else f"{result['changed']} cleared."
    return back(f"/reconciliations/{rec_id}/transactions", message=words, **params)


@router.post("/reconciliations/{rec_id}/transactions/{invoice_id}/select", response_class=HTMLResponse)
async def toggle_transaction(request: Request, runtime: Runtime, rec_id: str, invoice_id: int,
                             user: PagePayer) -> Response:
    """A row's checkbox: the tick is saved at once (it survives a change of page); htmx swaps the
    row and the "N selected (total $X)" line."""
    form = dict(await request.form())
    selected = form.get(f"sel-{invoice_id}") in ("on", "true", "1")
    received = str(form.get(f"received-{invoice_id}") or "")
    old = str(form.get(f"oldreceived-{invoice_id}") or "")
    edit = pay_schemas.TransactionEdit(invoice_id=invoice_id, selected=selected,
                              received=received if (selected and received != old) else None,
                              seen_selected=form.get(f"was-{invoice_id}") == "1", seen_received=old,
                              seen_paid_to_date=str(form.get(f"paid-{invoice_id}") or "") or None)
    result = await page_action(runtime, rec_id, user, pay_uc.edit_transactions, [edit])
    row_error = result if isinstance(result, str) else None
    async with runtime.db.session() as s:
        rows = await invoice_queries.get_transactions(s, rec_id, [invoice_id])
        selection = await invoice_queries.selection_totals(s, rec_id)
        if not rows:
            raise NotFound("transaction not found")
        rec = await page_header(s, rec_id)
    return render(request, "transaction_row.html", i=rows[0], rec=rec,
                  selection=selection, row_error=row_error, oob=True)
