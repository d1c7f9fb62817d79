"""Pages: unposted invoices, remove one."""

from __future__ import annotations

from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from invoicing.invoices import usecases as invoice_uc
from invoicing.invoices.pages import invoice_page
from invoicing.web import PageEditor, PageViewer, back, page_action

router = APIRouter(include_in_schema=False)


@router.get("/reconciliations/{rec_id}/invoices", response_class=HTMLResponse)
async def invoices(request: Request, session: Session, rec_id: str, user: PageViewer) -> HTMLResponse:
    return await invoice_page(request, session, rec_id, "invoices.html", ("unposted",))


@router.post("/reconciliations/{rec_id}/invoices/{invoice_id}/remove")
async def remove_invoice(runtime: Runtime, rec_id: str, invoice_id: int, user: PageEditor) -> Response:
    result = await page_action(runtime, rec_id, user, invoice_uc.remove_invoice, invoice_id)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/invoices", error=result)
    return back(f"/reconciliations/{rec_id}/invoices", message=f"Invoice {invoice_id}(S) removed.")
