"""Pages: the stages (create invoices, Create/Pay All and the exceptions popup, post, pay), their jobs, abort."""

from __future__ import annotations

from typing import Annotated

from agency_common.auth import User
from agency_common.web import ServiceRuntime, render
from agency_common.web.deps import Runtime
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from invoicing import errors
from invoicing.domain.commission import DISCREPANCY_TEXT
from invoicing.invoices import usecases as invoice_uc
from invoicing.payments import schemas as pay_schemas
from invoicing.payments import usecases as pay_uc
from invoicing.stages import abort as abort_uc
from invoicing.stages import create_pay_all as create_pay_all_uc
from invoicing.stages import jobs
from invoicing.web import (
    PageCreatePayer,
    PageEditor,
    PagePayer,
    PagePoster,
    PageViewer,
    back,
    duplicates_words,
    form_key,
    page_action,
    plural,
)

router = APIRouter(include_in_schema=False)


async def large(runtime: ServiceRuntime, rec_id: str, kind: str) -> bool:
    """Above the background threshold the action runs as a job (the operator may leave)."""
    try:
        return await jobs.pending_count(runtime, rec_id, kind) > runtime.settings.background_threshold
    except errors.NotFound:
        return False  # the action itself answers "not found"


async def start_job(runtime: ServiceRuntime, rec_id: str, user: User, kind: str, key: str | None) -> Response:
    try:
        started = await jobs.start(runtime, kind, rec_id, user.login, key)
    except (errors.Conflict, errors.NotFound) as exc:
        return back(f"/reconciliations/{rec_id}", error=str(exc))
    return back(f"/reconciliations/{rec_id}/jobs/{started['job']['id']}")


@router.post("/reconciliations/{rec_id}/create-invoices")
async def create_invoices(runtime: Runtime, rec_id: str, user: PageEditor,
                          idempotency_key: Annotated[str, Form()]) -> Response:
    async with runtime.db.session() as s:
        _lo, _hi, pending = await invoice_uc.pending_id_bounds(s, rec_id)
    if pending > runtime.settings.background_threshold:
        try:
            started = await jobs.start_create_invoices(runtime, rec_id, user.login, idempotency_key)
        except errors.Conflict as exc:
            return back(f"/reconciliations/{rec_id}", error=str(exc))
        return back(f"/reconciliations/{rec_id}/jobs/{started['job']['id']}")
    result = await page_action(runtime, rec_id, user, invoice_uc.create_invoices, idempotency_key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    msg = (f"{plural(result['created'], 'invoice')} created; {plural(result['exceptions'], 'exception')}; "
           f"{plural(result['invalid'], 'selected row')} with errors left in statement entry"
           + duplicates_words(result) + ".")
    return back(f"/reconciliations/{rec_id}/invoices", message=msg)


JOB_TITLES = {"create-invoices": "Create Invoices", "post": "Post Invoices", "pay": "Pay All Selected",
              "create-pay-all": "Create/Pay Invoices", "create-pay-post": "Create/Pay Invoices - Post"}


@router.get("/reconciliations/{rec_id}/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, runtime: Runtime, rec_id: str, job_id: str, user: PageViewer) -> HTMLResponse:
    job = await jobs.get_job(runtime, job_id)
    return render(request, "job.html", job=job, rec_id=rec_id, plural=plural,
                  title=JOB_TITLES.get(job["kind"], job["kind"]))


@router.post("/reconciliations/{rec_id}/create-pay-all", response_class=HTMLResponse)
async def create_pay_all(request: Request, runtime: Runtime, rec_id: str, user: PageCreatePayer,
                         idempotency_key: Annotated[str, Form()], decision: Annotated[str, Form()] = "") -> Response:
    if decision in ("", "create_pay", "create_pay_post") and await large(runtime, rec_id, "create-pay-all"):
        try:
            result = await jobs.start_create_pay_all(runtime, rec_id, user.login,
                                                     decision or None, idempotency_key)
        except (errors.Conflict, errors.NotFound) as exc:
            result = str(exc)
    else:
        result = await page_action(runtime, rec_id, user, create_pay_all_uc.create_pay_all, decision or None,
                               idempotency_key if decision != "cancel" else None)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    if result.get("background"):
        return back(f"/reconciliations/{rec_id}/jobs/{result['job']['id']}")
    if result["outcome"] == "exceptions":
        return render(request, "exceptions_popup.html", rec=result["reconciliation"], result=result,
                      key=form_key(), texts=DISCREPANCY_TEXT)
    if result["outcome"] == "cancelled":
        return back(f"/reconciliations/{rec_id}", message="Create/Pay All cancelled.")
    if result["outcome"] == "aborted":
        return back(f"/reconciliations/{rec_id}", message="Reconciliation aborted; no invoices were created.")
    msg = (f"{plural(result['created'], 'invoice')} created, posted and paid ({result['received_total']} received)"
           + duplicates_words(result) + ".")
    if result["next"] == "post":
        return back(f"/reconciliations/{rec_id}", message=msg, popup="post")
    return back(f"/reconciliations/{rec_id}/transactions", message=msg)


@router.post("/reconciliations/{rec_id}/abort")
async def abort(runtime: Runtime, rec_id: str, user: PageEditor,
                idempotency_key: Annotated[str, Form()]) -> Response:
    result = await page_action(runtime, rec_id, user, abort_uc.abort, idempotency_key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    msg = (f"Reconciliation aborted at stage {result.get('aborted_stage', '')}: "
           f"{plural(result.get('invoices_removed', 0), 'unposted invoice')} removed")
    offered = result.get("offered_to_next") or {}
    msg += f"; {offered['message']}." if offered.get("count") else "."
    return back(f"/reconciliations/{rec_id}", message=msg)


@router.post("/reconciliations/{rec_id}/post-invoices")
async def post_invoices(request: Request, runtime: Runtime, rec_id: str, user: PagePoster) -> Response:
    form = await request.form()
    ids = [int(v) for v in form.getlist("invoice")] or None
    key = str(form.get("idempotency_key") or "") or None
    if ids is None and await large(runtime, rec_id, "post"):
        return await start_job(runtime, rec_id, user, "post", key)
    result = await page_action(runtime, rec_id, user, invoice_uc.post_invoices, ids, key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/invoices", error=result)
    return back(f"/reconciliations/{rec_id}/transactions", message=f"{plural(result['posted'], 'invoice')} posted.")


@router.post("/reconciliations/{rec_id}/transactions/save")
async def save_transactions(request: Request, runtime: Runtime, rec_id: str, user: PagePayer) -> Response:
    form = await request.form()
    ids = sorted({int(k.split("-")[1]) for k in form if k.startswith("shown-")})
    edits = []
    for invoice_id in ids:
        selected = form.get(f"sel-{invoice_id}") == "on"
        was = form.get(f"was-{invoice_id}") == "1"
        received = str(form.get(f"received-{invoice_id}") or "")
        old = str(form.get(f"oldreceived-{invoice_id}") or "")
        if selected != was or (selected and received != old):
            # a newly selected row with an unchanged (empty) Received is filled with its balance
            edits.append(pay_schemas.TransactionEdit(invoice_id=invoice_id, selected=selected,
                                            received=received if (selected and received != old) else None,
                                            seen_selected=was, seen_received=old,
                                            seen_paid_to_date=str(form.get(f"paid-{invoice_id}") or "") or None))
    pay_now = form.get("action") == "pay"
    if edits:
        result = await page_action(runtime, rec_id, user, pay_uc.edit_transactions, edits)
        if isinstance(result, str):
            return back(f"/reconciliations/{rec_id}/transactions", error=result)
    if pay_now:
        key = str(form.get("idempotency_key") or "") or None
        if await large(runtime, rec_id, "pay"):
            return await start_job(runtime, rec_id, user, "pay", key)
        result = await page_action(runtime, rec_id, user, pay_uc.pay_selected, key)
        if isinstance(result, str):
            return back(f"/reconciliations/{rec_id}/transactions", error=result)
        return back(f"/reconciliations/{rec_id}/transactions",
                    message=f"Paid {plural(result['paid'], 'invoice')}: {result['received_total']} received.")
    return back(f"/reconciliations/{rec_id}/transactions", message=f"Saved {plural(len(edits), 'row')}.")
