"""The stages, JSON: create invoices, Create/Pay All, post, pay (a job above the background threshold: 202), jobs, abort."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.web import ServiceRuntime
from agency_common.web.deps import Runtime
from fastapi import APIRouter, Body, Response

from invoicing import errors
from invoicing.invoices import usecases as invoice_uc
from invoicing.models import Reconciliation
from invoicing.payments import usecases as pay_uc
from invoicing.reconciliations import usecases as rec_uc
from invoicing.stages import abort as abort_uc
from invoicing.stages import create_pay_all as create_pay_all_uc
from invoicing.stages import jobs
from invoicing.stages.schemas import (
    AbortOut,
    ActionBody,
    CreateInvoicesOut,
    CreatePayAllOut,
    CreatePayBody,
    JobOut,
    JobStarted,
    PayOut,
    PostBody,
    PostOut,
)
from invoicing.web import CreatePayer, Editor, IdemKey, Payer, Poster, Viewer, answered

router = APIRouter(prefix="/api", tags=["invoicing"])
IN_BACKGROUND: dict[int | str, dict[str, Any]] = {
    202: {"model": JobStarted, "description": "Above the background threshold: a job does it"}}


@router.post("/reconciliations/{rec_id}/create-invoices", response_model=CreateInvoicesOut,
             response_model_exclude_unset=True, responses=IN_BACKGROUND)
async def create_invoices(runtime: Runtime, response: Response, rec_id: str, user: Editor, key: IdemKey = None,
                          body: Annotated[ActionBody | None, Body()] = None) -> dict[str, Any]:
    key = key or (body.idempotency_key if body else None)
    async with runtime.db.session() as s:
        if await s.get(Reconciliation, rec_id) is None:
            raise errors.NotFound(f"reconciliation {rec_id} not found")
        _lo, _hi, pending = await invoice_uc.pending_id_bounds(s, rec_id)
    if pending > runtime.settings.background_threshold:
        return answered(response, await jobs.start_create_invoices(runtime, rec_id, user.login, key))
    async with runtime.uow(actor=user.login) as tx:
        return answered(response, await invoice_uc.create_invoices(tx, rec_id, key))


@router.get("/jobs/{job_id}", response_model=JobOut, response_model_exclude_unset=True)
async def get_job(runtime: Runtime, job_id: str, _user: Viewer) -> dict[str, Any]:
    return await jobs.get_job(runtime, job_id)


async def in_background(runtime: ServiceRuntime, kind: str, rec_id: str) -> bool:
    return await jobs.pending_count(runtime, rec_id, kind) > runtime.settings.background_threshold


@router.post("/reconciliations/{rec_id}/create-pay-all", response_model=CreatePayAllOut,
             response_model_exclude_unset=True, responses=IN_BACKGROUND)
async def create_pay_all(runtime: Runtime, response: Response, rec_id: str, user: CreatePayer, key: IdemKey = None,
                         body: Annotated[CreatePayBody | None, Body()] = None) -> dict[str, Any]:
    """Create, post and pay the selected rows; above the background threshold a job does it (202)
    once there are no exceptions or the operator has decided about them."""
    body = body or CreatePayBody()
    key = key or body.idempotency_key
    if body.decision in (None, "create_pay", "create_pay_post") and await in_background(
            runtime, "create-pay-all", rec_id):
        return answered(response, await jobs.start_create_pay_all(runtime, rec_id, user.login, body.decision, key))
    async with runtime.uow(actor=user.login) as tx:
        return answered(response, await create_pay_all_uc.create_pay_all(tx, rec_id, body.decision, key))


@router.post("/reconciliations/{rec_id}/post", response_model=PostOut, response_model_exclude_unset=True,
             responses=IN_BACKGROUND)
async def post(runtime: Runtime, response: Response, rec_id: str, user: Poster, key: IdemKey = None,
               body: Annotated[PostBody | None, Body()] = None) -> dict[str, Any]:
    """Post the unposted invoices (or the reconciliation); every unposted invoice above the
    background threshold is posted by a job (202)."""
    body = body or PostBody()
    key = key or body.idempotency_key
    if body.target == "reconciliation":
        async with runtime.uow(actor=user.login) as tx:
            return answered(response, await rec_uc.close_reconciliation(tx, rec_id, key))
    if body.invoice_ids is None and await in_background(runtime, "post", rec_id):
        return answered(response, await jobs.start(runtime, "post", rec_id, user.login, key))
    async with runtime.uow(actor=user.login) as tx:
        return answered(response, await invoice_uc.post_invoices(tx, rec_id, body.invoice_ids, key))


@router.post("/reconciliations/{rec_id}/pay", response_model=PayOut, response_model_exclude_unset=True,
             responses=IN_BACKGROUND)
async def pay(runtime: Runtime, response: Response, rec_id: str, user: Payer, key: IdemKey = None,
              body: Annotated[ActionBody | None, Body()] = None) -> dict[str, Any]:
    """Pay All Selected; above the background threshold a job pays in chunks (202)."""
    key = key or (body.idempotency_key if body else None)
    if await in_background(runtime, "pay", rec_id):
        return answered(response, await jobs.start(runtime, "pay", rec_id, user.login, key))
    async with runtime.uow(actor=user.login) as tx:
        return answered(response, await pay_uc.pay_selected(tx, rec_id, key))


@router.post("/reconciliations/{rec_id}/abort", response_model=AbortOut, response_model_exclude_unset=True)
async def abort(runtime: Runtime, rec_id: str, user: Editor, key: IdemKey = None,
                body: Annotated[ActionBody | None, Body()] = None) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        return await abort_uc.abort(tx, rec_id, key or (body.idempotency_key if body else None))

