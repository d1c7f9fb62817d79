"""Batches pages: the home list, a batch, submit and close."""

from __future__ import annotations

from typing import Annotated

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appointments.batches.queries import (
    BATCH_SORTING,
    batch_view,
    batches_page,
    transaction_counts,
    transaction_view,
)
from appointments.batches.usecases import CLOSABLE, close_not_eligible, close_transactions, submit_batch
from appointments.errors import BatchStateError
from appointments.web import found

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 100  # batches a page of the home screen


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: Session, _user: Annotated[User, page_permission("appointments:view")],
               sort: str = "", offset: Offset = 0, limit: int = PAGE_SIZE) -> HTMLResponse:
    listed = await batches_page(session, max(0, offset), min(max(1, limit), 1000), BATCH_SORTING.valid(sort))
    counts = await transaction_counts(session, [b.id for b in listed.items])
    return render(request, "appointments_home.html", batches=listed.items, page=listed, counts=counts)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, session: Session, batch_id: str,
                     user: Annotated[User, page_permission("appointments:view")],
                     error: str | None = None) -> HTMLResponse:
    b = found(await batch_view(session, batch_id), "no such batch")
    return render(request, "batch.html", b=b, error=error, can_submit=user.can("appointments:submit"),
                  closable=CLOSABLE, closable_count=sum(b["counts"].get(st, 0) for st in CLOSABLE))


@router.get("/transactions/{transaction_id}", response_class=HTMLResponse)
async def transaction_page(request: Request, session: Session, transaction_id: str,
                           _user: Annotated[User, page_permission("appointments:view")]) -> HTMLResponse:
    """One transaction; a Not Eligible one with the facts that decided it."""
    t = found(await transaction_view(session, transaction_id), "no such transaction")
    return render(request, "transaction.html", t=t)


@router.post("/batches/{batch_id}/submit")
async def batch_submit(request: Request, runtime: Runtime, session: Session, batch_id: str,
                       user: Annotated[User, page_permission("appointments:submit")],
                       include_jit: Annotated[bool, Form()] = False) -> Response:
    try:
        async with runtime.uow(actor=user.login) as tx:
            await submit_batch(tx, batch_id, include_jit=include_jit)
    except BatchStateError as exc:  # shown on the batch's page, beside what it has
        return await batch_page(request, session, batch_id, user, error=str(exc))
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/close-not-eligible")
async def batch_close(runtime: Runtime, batch_id: str,
                      user: Annotated[User, page_permission("appointments:submit")]) -> Response:
    async with runtime.uow(actor=user.login) as tx:
        await close_not_eligible(tx, batch_id)
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/close")
async def batch_close_selected(request: Request, runtime: Runtime, session: Session, batch_id: str,
                               user: Annotated[User, page_permission("appointments:submit")]) -> Response:
    """Drop the ticked rows of a batch (before review ends, or set aside what NIPR refused)."""
    form = await request.form()
    ids = [str(x) for x in form.getlist("transaction_id")]
    reason = str(form.get("reason") or "").strip()[:500]
    if not ids or not reason:
        return await batch_page(request, session, batch_id, user, error="Tick the transactions to close and say why.")
    async with runtime.uow(actor=user.login) as tx:
        out = await close_transactions(tx, ids, reason)
    if out["refused"]:
        return await batch_page(request, session, batch_id, user, error="; ".join(
            f"{r['id'][:8]}: {r['reason']}" for r in out["refused"]))
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)
