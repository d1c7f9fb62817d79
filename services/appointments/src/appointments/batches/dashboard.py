"""Batches pages: the home list, a batch, submit and close."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from appointments.batches.filters import STATUSES, TransactionFilter
from appointments.batches.queries import (
    BATCH_ROW_SORTING,
    BATCH_SORTING,
    TRANSACTION_SORTING,
    batch_header,
    batch_rows_page,
    batch_status_filter,
    batches_page,
    transaction_counts,
    transaction_view,
    transactions_page,
)
from appointments.batches.usecases import (
    CLOSABLE,
    close_matching,
    close_not_eligible,
    close_transactions,
    submit_batch,
)
from appointments.domain import vocabulary as v
from appointments.errors import BatchStateError, Invalid
from appointments.web import found

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 100  # batches a page of the home screen


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: Session, _user: Annotated[User, page_permission("appointments:view")],
               sort: str = "", offset: Offset = 0, limit: int = PAGE_SIZE) -> HTMLResponse:
    listed = await batches_page(session, max(0, offset), min(max(1, limit), 1000), BATCH_SORTING.valid(sort))
    counts = await transaction_counts(session, [b.id for b in listed.items])
    return render(request, "appointments_home.html", batches=listed.items, page=listed, counts=counts)


BATCH_ROWS = 200  # a batch page's rows (a 7,000-row batch was one 1.9 MB page)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, session: Session, batch_id: str,
                     user: Annotated[User, page_permission("appointments:view")],
                     error: str | None = None, status: str = "", sort: str = "", offset: Offset = 0,
                     limit: int = BATCH_ROWS) -> HTMLResponse:
    """A batch's summary and one page of its rows (``status``: one status, empty for all)."""
    b = found(await batch_header(session, batch_id), "no such batch")
    bad = None
    try:
        status = batch_status_filter(status)
    except Invalid as exc:  # a bad filter is said on the page, over every row
        status, bad = "", str(exc)
    rows = await batch_rows_page(session, batch_id, status, max(0, offset), min(max(1, limit), 1000),
                                 BATCH_ROW_SORTING.valid(sort))
    return render(request, "batch.html", status_code=422 if bad and not error else 200, b=b, page=rows,
                  error=error or bad, statuses=STATUSES, can_submit=user.can("appointments:submit"),
                  closable=CLOSABLE, closable_count=sum(b["counts"].get(st, 0) for st in CLOSABLE))


FILTER_FIELDS = ("status", "state", "cocode", "npn", "batch_id", "kind")


async def _transactions(request: Request, session: AsyncSession, user: User, given: dict[str, str], sort: str,
                        offset: int, limit: int, *, error: str | None = None, done: dict[str, Any] | None = None,
                        reason: str = "") -> HTMLResponse:
    try:
        f = TransactionFilter.of(**given)
    except Invalid as exc:  # a bad filter is said on the page, over the default list
        f, error = TransactionFilter(), str(exc)
    listed = await transactions_page(session, f, max(0, offset), min(max(1, limit), 1000),
                                     TRANSACTION_SORTING.valid(sort))
    return render(request, "transactions.html", status_code=422 if error else 200, page=listed, f=f,
                  given=given, statuses=STATUSES, error=error, done=done, reason=reason,
                  can_close=user.can("appointments:submit"), sendable=v.SENDABLE)


def _number(value: Any, default: int) -> int:
    """A page position from a form: a bad one is the default, never a 500."""
    text = str(value or "")
    return min(int(text), 2**31 - 1) if text.isdigit() else default


@router.get("/transactions", response_class=HTMLResponse)
async def transactions_list(request: Request, session: Session,
                            user: Annotated[User, page_permission("appointments:view")],
                            status: str = "", state: str = "", cocode: str = "", npn: str = "", batch_id: str = "",
                            kind: str = "", sort: str = "", offset: Offset = 0, limit: int = PAGE_SIZE) -> HTMLResponse:
    """Transactions by filter, a page at a time: Ready or JIT Held ones unless another status is chosen."""
    given = {"status": status, "state": state, "cocode": cocode, "npn": npn, "batch_id": batch_id, "kind": kind}
    return await _transactions(request, session, user, given, sort, offset, limit)


@router.post("/transactions/close", response_class=HTMLResponse)
async def transactions_close(request: Request, runtime: Runtime, session: Session,
                             user: Annotated[User, page_permission("appointments:submit")]) -> HTMLResponse:
    """Close the ticked rows, or all that match the filter, with a reason; the list again with what happened."""
    form = await request.form()
    given = {k: str(form.get(k) or "") for k in FILTER_FIELDS}
    sort, reason = str(form.get("sort") or ""), str(form.get("reason") or "").strip()[:500]
    offset, limit = _number(form.get("offset"), 0), _number(form.get("limit"), PAGE_SIZE)
    ids = [str(x) for x in form.getlist("transaction_id")]
    matching = form.get("scope") == "matching"

    def again(**kw: Any) -> Any:
        return _transactions(request, session, user, given, sort, offset, limit, reason=reason, **kw)

    if not reason:
        return await again(error="Say why they are closed: the reason is kept with each transaction.")
    if not matching and not ids:
        return await again(error="Tick the transactions to close, or close all that match the filter.")
    try:
        async with runtime.uow(actor=user.login) as tx:
            if matching:
                done = await close_matching(tx, TransactionFilter.of(**given), reason)
            else:
                out = await close_transactions(tx, ids, reason, {"chosen_by": "selection"})
                done = {"matched": len(ids), "closed": len(out["closed"]), "refused": out["refused"]}
    except Invalid as exc:
        return await again(error=str(exc))
    return await _transactions(request, session, user, given, sort, 0, limit, done=done)


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
