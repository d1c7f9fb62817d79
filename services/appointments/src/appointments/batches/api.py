"""Transaction batches: list, read, submit, close (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.validation import NonBlankStr
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from appointments.batches.filters import TransactionFilter
from appointments.batches.queries import (
    batch_header,
    batch_rows_page,
    batch_status_filter,
    batch_view,
    batches_page,
    transaction_out,
    transaction_view,
    transactions_page,
)
from appointments.batches.schemas import (
    BatchOut,
    BatchPage,
    ClosedMatching,
    ClosedNotEligible,
    ClosedTransactions,
    TransactionDetail,
    TransactionPage,
)
from appointments.batches.usecases import close_matching, close_not_eligible, close_transactions, submit_batch
from appointments.web import found

router = APIRouter(prefix="/api")


@router.get("/transaction-batches", tags=["transaction batches"], response_model=BatchPage, response_model_exclude_unset=True)
async def list_batches(session: Session, _user: Annotated[User, require("appointments:view")],
                       limit: Annotated[int, Query(ge=1)] = 100, offset: Offset = 0,
                       sort: str = "-created_at") -> dict[str, Any]:
    """One page of batches with the total (``{total, offset, limit, sort, items}``), the newest first
    unless ``sort`` names a column (``-`` before it for descending)."""
    listed = await batches_page(session, offset, min(limit, 1000), sort)
    return listed.api([r.model_dump(mode="json") for r in listed.items])


@router.get("/transaction-batches/{batch_id}", tags=["transaction batches"], response_model=BatchOut, response_model_exclude_unset=True)
async def get_batch(session: Session, batch_id: str, _user: Annotated[User, require("appointments:view")]) -> dict[str, Any]:
    return found(await batch_view(session, batch_id), "no such batch")


@router.get("/transaction-batches/{batch_id}/transactions", tags=["transaction batches"],
            response_model=TransactionPage, response_model_exclude_unset=True)
async def list_batch_transactions(session: Session, batch_id: str, _user: Annotated[User, require("appointments:view")],
                                  status: str = "", limit: Annotated[int, Query(ge=1)] = 100, offset: Offset = 0,
                                  sort: str = "state") -> dict[str, Any]:
    """One page of a batch's transactions with the total (``{total, offset, limit, sort, items}``): every
    status unless ``status`` names one; by state, NPN and line unless ``sort`` names a column (``-`` before
    it for descending). ``GET /api/transaction-batches/{id}`` still answers with every transaction."""
    found(await batch_header(session, batch_id), "no such batch")
    listed = await batch_rows_page(session, batch_id, batch_status_filter(status), offset, min(limit, 1000), sort)
    return listed.api([transaction_out(r) for r in listed.items])


@router.get("/transactions", tags=["transaction batches"], response_model=TransactionPage,
            response_model_exclude_unset=True)
async def list_transactions(session: Session, _user: Annotated[User, require("appointments:view")],
                            status: str = "", state: str = "", cocode: str = "", npn: str = "", batch_id: str = "",
                            kind: str = "", limit: Annotated[int, Query(ge=1)] = 100, offset: Offset = 0,
                            sort: str = "-created_at",
                            after: Annotated[str, Query(max_length=36)] = "") -> dict[str, Any]:
    """One page of transactions with the total: Ready to Submit or JIT Held ones unless ``status`` names
    another (or ``any``), narrowed by state, CoCode, NPN, batch and kind; the newest first unless ``sort``
    names a column. ``after`` (the id of the last item of the page before, same filter and sort) reads
    the next page by key: as fast deep in a long list as at its start; ``offset`` then counts from it."""
    f = TransactionFilter.of(status=status, state=state, cocode=cocode, npn=npn, batch_id=batch_id, kind=kind)
    listed = await transactions_page(session, f, offset, min(limit, 1000), sort, after)
    return listed.api([r.model_dump(mode="json", exclude={"idempotency_key", "explanation"}) for r in listed.items])


@router.get("/transactions/{transaction_id}", tags=["transaction batches"], response_model=TransactionDetail,
            response_model_exclude_unset=True)
async def get_transaction(session: Session, transaction_id: str,
                          _user: Annotated[User, require("appointments:view")]) -> dict[str, Any]:
    """One transaction; a Not Eligible one with ``explanation``: the license, line of authority,
    company state setting and business rule row (effective date, source) that decided it."""
    return found(await transaction_view(session, transaction_id), "no such transaction")


class SubmitOptions(BaseModel):
    include_jit: bool = False


@router.post("/transaction-batches/{batch_id}/submit", tags=["transaction batches"], response_model=BatchOut,
             response_model_exclude_unset=True)
async def submit_batch_route(runtime: Runtime, session: Session, batch_id: str,
                             user: Annotated[User, require("appointments:submit")],
                             body: Annotated[SubmitOptions | None, Body()] = None) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        await submit_batch(tx, batch_id, include_jit=bool(body and body.include_jit))
    return found(await batch_view(session, batch_id), "no such batch")


class CloseReason(BaseModel):
    reason: NonBlankStr = Field(max_length=500)


@router.post("/transaction-batches/{batch_id}/close-not-eligible", tags=["transaction batches"],
             response_model=ClosedNotEligible, response_model_exclude_unset=True)
async def close_not_eligible_route(runtime: Runtime, batch_id: str,
                                   user: Annotated[User, require("appointments:submit")],
                                   body: Annotated[CloseReason | None, Body()] = None) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        closed = await close_not_eligible(tx, batch_id, body.reason if body else None)
    return {"batch_id": batch_id, "closed": closed}


class CloseTransactions(CloseReason):
    transaction_ids: list[str] = Field(min_length=1, max_length=10_000)


class CloseMatching(CloseReason):
    """The list's filter (as ``GET /api/transactions`` takes it) and the reason."""

    status: str = ""
    state: str = ""
    cocode: str = ""
    npn: str = ""
    batch_id: str = ""
    kind: str = ""


@router.post("/transactions/close-matching", tags=["transaction batches"], response_model=ClosedMatching,
             response_model_exclude_unset=True)
async def close_matching_route(runtime: Runtime, body: CloseMatching,
                               user: Annotated[User, require("appointments:submit")]) -> dict[str, Any]:
    """Close every Ready or JIT Held transaction the filter keeps (at most 10,000 in one call), with a
    reason; recorded in the audit trail with the filter."""
    f = TransactionFilter.of(**body.model_dump(exclude={"reason"}))
    async with runtime.uow(actor=user.login) as tx:
        return await close_matching(tx, f, body.reason)


@router.post("/transactions/close", tags=["transaction batches"], response_model=ClosedTransactions, response_model_exclude_unset=True)
async def close_transactions_route(runtime: Runtime, body: CloseTransactions,
                                   user: Annotated[User, require("appointments:submit")]) -> dict[str, Any]:
    """Close transactions by id, with a reason: Ready or JIT Held ones are withdrawn before NIPR (a
    review batch drops a row this way), Not Eligible and Rejected ones set aside. Each id that
    cannot be closed (pending at NIPR, answered, unknown) is listed with why; the rest are closed."""
    async with runtime.uow(actor=user.login) as tx:
        return await close_transactions(tx, body.transaction_ids, body.reason)
