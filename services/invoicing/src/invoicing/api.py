"""invoicing's JSON API: routes only translate (parse, call the use case, map errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from agency_common.auth import User, require
from agency_common.web import render
from fastapi import APIRouter, Body, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from invoicing import errors
from invoicing.domain.duplicates import OVERRIDE_PERMISSION
from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.invoices import usecases as invoice_uc
from invoicing.models import PolicyView, Reconciliation
from invoicing.payments import schemas as pay_schemas
from invoicing.payments import usecases as pay_uc
from invoicing.reconciliations import schemas as rec_schemas
from invoicing.reconciliations import status as rec_status
from invoicing.reconciliations import usecases as rec_uc
from invoicing.reports import remittance as reports
from invoicing.stages import abort as abort_uc
from invoicing.stages import create_pay_all as create_pay_all_uc
from invoicing.stages import jobs
from invoicing.statement_entry import duplicates
from invoicing.statement_entry import people as people_uc
from invoicing.statement_entry import queries as entry_queries
from invoicing.statement_entry import schemas as entry_schemas
from invoicing.statement_entry import usecases as entry_uc

router = APIRouter(prefix="/api", tags=["invoicing"])

Viewer = Annotated[User, require("reconciliations:view")]
Editor = Annotated[User, require("reconciliations:edit")]
Poster = Annotated[User, require("reconciliations:post")]
Payer = Annotated[User, require("reconciliations:pay")]
CreatePayer = Annotated[User, require("reconciliations:edit", "reconciliations:post", "reconciliations:pay")]
DuplicateOverrider = Annotated[User, require("reconciliations:edit", OVERRIDE_PERMISSION)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]


def errors_to_http(exc: Exception) -> HTTPException:
    if isinstance(exc, errors.NotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, errors.Conflict):
        return HTTPException(409, exc.detail)
    if isinstance(exc, errors.Invalid):
        return HTTPException(422, exc.detail)
    raise exc


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except (errors.NotFound, errors.Conflict, errors.Invalid) as exc:
        raise errors_to_http(exc) from None


async def in_tx(request: Request, user: User, fn: Callable[..., Awaitable[Any]], *args: Any, **kw: Any) -> Any:
    async with translated(), request.app.state.runtime.uow(actor=user.login) as tx:
        return await fn(tx, *args, **kw)


# -- policies (read model) ----------------------------------------------------------------------
@router.get("/policies")
async def list_policies(
    request: Request, _user: Viewer, carrier: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    stmt, count = select(PolicyView), select(func.count()).select_from(PolicyView)
    if carrier:
        stmt, count = stmt.where(PolicyView.carrier == carrier), count.where(PolicyView.carrier == carrier)
    async with request.app.state.runtime.db.session() as session:
        total = await session.scalar(count)
        rows = (await session.execute(stmt.order_by(PolicyView.policy_number).limit(limit).offset(offset))).scalars()
        return {"total": total, "items": [p.model_dump(mode="json") for p in rows]}


@router.get("/policies/{policy_id}")
async def get_policy(request: Request, policy_id: str, _user: Viewer) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as session:
        policy = await session.get(PolicyView, policy_id)
    if policy is None:
        raise HTTPException(404, "policy not known to invoicing (yet)")
    return policy.model_dump(mode="json")


# -- reconciliations ----------------------------------------------------------------------------
@router.get("/reconciliations")
async def list_reconciliations(
    request: Request, _user: Viewer, status: str | None = None, carrier: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    cond = []
    if status:
        cond.append(Reconciliation.status == status)
    if carrier:
        cond.append(Reconciliation.carrier == carrier)
    async with request.app.state.runtime.db.session() as s:
        total = await s.scalar(select(func.count()).select_from(Reconciliation).where(*cond))
        rows = (await s.execute(select(Reconciliation).where(*cond).order_by(
            Reconciliation.created_at.desc()).limit(limit).offset(offset))).scalars().all()
        return {"total": total, "items": [r.model_dump(mode="json") for r in rows]}


@router.post("/reconciliations", status_code=201)
async def open_reconciliation(request: Request, data: rec_schemas.NewReconciliation, user: Editor) -> dict[str, Any]:
    today = rec_uc.business_today(request.app.state.runtime.settings.business_timezone)
    return await in_tx(request, user, rec_uc.open_reconciliation, data, today)


@router.get("/reconciliations/{rec_id}")
async def get_reconciliation(request: Request, rec_id: str, _user: Viewer) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as s:
        rec = await s.get(Reconciliation, rec_id)
        if rec is None:
            raise HTTPException(404, f"reconciliation {rec_id} not found")
        return rec_status.header(rec, await rec_status.totals(s, rec))


@router.patch("/reconciliations/{rec_id}")
async def edit_reconciliation(request: Request, rec_id: str, data: rec_schemas.HeaderEdit, user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, rec_uc.edit_header, rec_id, data)


# -- statement entry ----------------------------------------------------------------------------
@router.get("/reconciliations/{rec_id}/entries")
async def list_entries(
    request: Request, rec_id: str, _user: Viewer, filters: Annotated[entry_schemas.EntryFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    async with translated(), request.app.state.runtime.db.session() as s:
        return await entry_queries.search_entries(s, rec_id, filters, limit, offset)


class EntriesSave(BaseModel):
    items: list[entry_schemas.EntryEdit] = Field(min_length=1, max_length=1000)


@router.patch("/reconciliations/{rec_id}/entries")
async def save_entries(request: Request, rec_id: str, body: EntriesSave, user: Editor,
                       key: IdemKey = None) -> dict[str, Any]:
    return await in_tx(request, user, entry_uc.save_entries, rec_id, body.items, key)


class SelectBody(BaseModel):
    selected: bool = True
    ids: list[int] | None = Field(default=None, max_length=1000)
    all_matching: bool = False  # every row the query-string filters find


@router.post("/reconciliations/{rec_id}/entries/select")
async def select_entries(request: Request, rec_id: str, body: SelectBody, user: Editor,
                         filters: Annotated[entry_schemas.EntryFilters, Query()]) -> dict[str, Any]:
    if body.ids is None and not body.all_matching:
        raise HTTPException(422, "give ids, or all_matching with the filters")
    return await in_tx(request, user, entry_uc.select_entries, rec_id, body.selected, body.ids,
                       filters if body.all_matching else None)


@router.post("/reconciliations/{rec_id}/entries/confirm-duplicates")
async def confirm_duplicates(request: Request, rec_id: str, body: entry_schemas.DuplicateConfirmation,
                             user: DuplicateOverrider) -> dict[str, Any]:
    """Invoice again rows flagged "already invoiced / paid in reconciliation N" (per row or the
    selection); the confirmation records the user."""
    return await in_tx(request, user, duplicates.confirm_duplicates, rec_id, body)


@router.post("/reconciliations/{rec_id}/entries/reset-amounts")
async def reset_amounts(request: Request, rec_id: str, user: Editor,
                        filters: Annotated[entry_schemas.EntryFilters, Query()]) -> dict[str, Any]:
    return await in_tx(request, user, entry_uc.reset_amounts, rec_id, filters)


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/other-commissions", status_code=201)
async def add_other_commission(request: Request, rec_id: str, entry_id: int, data: entry_schemas.OtherCommissionIn,
                               user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, people_uc.add_other_commission, rec_id, entry_id, data)


@router.delete("/reconciliations/{rec_id}/other-commissions/{other_id}", status_code=204)
async def remove_other_commission(request: Request, rec_id: str, other_id: int, user: Editor) -> None:
    await in_tx(request, user, people_uc.remove_other_commission, rec_id, other_id)


@router.put("/carriers/{carrier}/people-commission-defaults/{employee}")
async def set_people_default(request: Request, carrier: str, employee: str, data: entry_schemas.PeopleDefaultIn,
                             user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, people_uc.set_people_default, carrier, employee, data)


# -- invoices -----------------------------------------------------------------------------------
class ActionBody(BaseModel):
    idempotency_key: str | None = Field(default=None, max_length=100)


@router.post("/reconciliations/{rec_id}/create-invoices")
async def create_invoices(request: Request, rec_id: str, user: Editor, key: IdemKey = None,
                          body: Annotated[ActionBody | None, Body()] = None) -> JSONResponse:
    key = key or (body.idempotency_key if body else None)
    runtime = request.app.state.runtime
    async with translated():
        async with runtime.db.session() as s:
            if await s.get(Reconciliation, rec_id) is None:
                raise errors.NotFound(f"reconciliation {rec_id} not found")
            _lo, _hi, pending = await invoice_uc.pending_id_bounds(s, rec_id)
        if pending > runtime.settings.background_threshold:
            result = await jobs.start_create_invoices(runtime, rec_id, user.login, key)
        else:
            result = await in_tx(request, user, invoice_uc.create_invoices, rec_id, key)
    return JSONResponse(result, status_code=202 if result.get("background") else 200)


@router.get("/jobs/{job_id}")
async def get_job(request: Request, job_id: str, _user: Viewer) -> dict[str, Any]:
    async with translated():
        return await jobs.get_job(request.app.state.runtime, job_id)


class CreatePayBody(ActionBody):
    decision: Literal["create_pay", "create_pay_post", "cancel", "abort"] | None = None


def answered(result: dict[str, Any]) -> JSONResponse:
    """200 with the result, or 202 with the background job that will produce it."""
    return JSONResponse(result, status_code=202 if result.get("background") else 200)


async def in_background(request: Request, kind: str, rec_id: str) -> bool:
    runtime = request.app.state.runtime
    async with translated():
        return await jobs.pending_count(runtime, rec_id, kind) > runtime.settings.background_threshold


@router.post("/reconciliations/{rec_id}/create-pay-all")
async def create_pay_all(request: Request, rec_id: str, user: CreatePayer, key: IdemKey = None,
                         body: Annotated[CreatePayBody | None, Body()] = None) -> JSONResponse:
    """Create, post and pay the selected rows; above the background threshold a job does it (202)
    once there are no exceptions or the operator has decided about them."""
    body = body or CreatePayBody()
    key = key or body.idempotency_key
    if body.decision in (None, "create_pay", "create_pay_post") and await in_background(
            request, "create-pay-all", rec_id):
        async with translated():
            return answered(await jobs.start_create_pay_all(request.app.state.runtime, rec_id, user.login,
                                                            body.decision, key))
    return answered(await in_tx(request, user, create_pay_all_uc.create_pay_all, rec_id, body.decision, key))


@router.get("/reconciliations/{rec_id}/invoices")
async def list_invoices(
    request: Request, rec_id: str, _user: Viewer, filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
    status: Literal["unposted", "posted", "paid", "all"] = "unposted",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    statuses = ("unposted", "posted", "paid") if status == "all" else (status,)
    async with translated(), request.app.state.runtime.db.session() as s:
        return await invoice_queries.list_invoices(s, rec_id, statuses, filters, limit, offset)


@router.delete("/reconciliations/{rec_id}/invoices/{invoice_id}")
async def remove_invoice(request: Request, rec_id: str, invoice_id: int, user: Editor) -> dict[str, Any]:
    return await in_tx(request, user, invoice_uc.remove_invoice, rec_id, invoice_id)


class PostBody(ActionBody):
    target: Literal["invoices", "reconciliation"] = "invoices"
    invoice_ids: list[int] | None = Field(default=None, max_length=10000)


@router.post("/reconciliations/{rec_id}/post")
async def post(request: Request, rec_id: str, user: Poster, key: IdemKey = None,
               body: Annotated[PostBody | None, Body()] = None) -> JSONResponse:
    """Post the unposted invoices (or the reconciliation); every unposted invoice above the
    background threshold is posted by a job (202)."""
    body = body or PostBody()
    key = key or body.idempotency_key
    if body.target == "reconciliation":
        return answered(await in_tx(request, user, rec_uc.close_reconciliation, rec_id, key))
    if body.invoice_ids is None and await in_background(request, "post", rec_id):
        async with translated():
            return answered(await jobs.start(request.app.state.runtime, "post", rec_id, user.login, key))
    return answered(await in_tx(request, user, invoice_uc.post_invoices, rec_id, body.invoice_ids, key))


# -- direct-bill transactions -------------------------------------------------------------------
@router.get("/reconciliations/{rec_id}/transactions")
async def list_transactions(
    request: Request, rec_id: str, _user: Viewer, filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    async with translated(), request.app.state.runtime.db.session() as s:
        listed = await invoice_queries.list_invoices(s, rec_id, ("posted", "paid"), filters, limit, offset)
        return {**listed, **await pay_uc.selection_totals(s, rec_id)}


class TransactionsSave(BaseModel):
    items: list[pay_schemas.TransactionEdit] = Field(min_length=1, max_length=1000)


@router.patch("/reconciliations/{rec_id}/transactions")
async def edit_transactions(request: Request, rec_id: str, body: TransactionsSave, user: Payer) -> dict[str, Any]:
    return await in_tx(request, user, pay_uc.edit_transactions, rec_id, body.items)


@router.post("/reconciliations/{rec_id}/transactions/select-all")
async def select_all_transactions(request: Request, rec_id: str, user: Payer,
                                  filters: Annotated[invoice_schemas.InvoiceFilters, Query()],
                                  selected: bool = True) -> dict[str, Any]:
    """Select (Received = Balance) or clear every posted, unpaid invoice the filters find, on every page."""
    return await in_tx(request, user, pay_uc.select_all_transactions, rec_id, selected, filters)


@router.post("/reconciliations/{rec_id}/pay")
async def pay(request: Request, rec_id: str, user: Payer, key: IdemKey = None,
              body: Annotated[ActionBody | None, Body()] = None) -> JSONResponse:
    """Pay All Selected; above the background threshold a job pays in chunks (202)."""
    key = key or (body.idempotency_key if body else None)
    if await in_background(request, "pay", rec_id):
        async with translated():
            return answered(await jobs.start(request.app.state.runtime, "pay", rec_id, user.login, key))
    return answered(await in_tx(request, user, pay_uc.pay_selected, rec_id, key))


@router.get("/reconciliations/{rec_id}/abort-preview")
async def abort_preview(request: Request, rec_id: str, _user: Viewer) -> dict[str, Any]:
    """What an abort leaves posted (and offers to the carrier's next reconciliation), in words."""
    async with request.app.state.runtime.db.session() as s:
        rec = await s.get(Reconciliation, rec_id)
        if rec is None:
            raise HTTPException(404, f"reconciliation {rec_id} not found")
        preview = await rec_uc.abort_preview(s, rec)
    return {**preview, "balance": str(preview["balance"])}


@router.post("/reconciliations/{rec_id}/abort")
async def abort(request: Request, rec_id: str, user: Editor, key: IdemKey = None,
                body: Annotated[ActionBody | None, Body()] = None) -> dict[str, Any]:
    return await in_tx(request, user, abort_uc.abort, rec_id, key or (body.idempotency_key if body else None))


# -- reports ------------------------------------------------------------------------------------
@router.get("/reconciliations/{rec_id}/reports/{kind}", response_model=None)
async def report(request: Request, rec_id: str, kind: Literal["summary", "exceptions", "remittance"],
                 _user: Viewer, format: Literal["json", "csv", "html"] = "json") -> Any:
    async with translated(), request.app.state.runtime.db.session() as s:
        rep = await reports.build(s, rec_id, kind, row_limit=reports.HTML_ROW_LIMIT if format == "html" else None)
    if format == "csv":
        return StreamingResponse(reports.to_csv(rep), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{kind}-{rec_id}.csv"'})
    if format == "html":
        return render(request, "report_print.html", report=rep, rec_id=rec_id, limit=reports.HTML_ROW_LIMIT)
    return reports.to_json(rep)


