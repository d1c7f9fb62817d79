"""Transaction batches: list, read, submit, close (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.validation import NonBlankStr
from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from appointments import models as m
from appointments.batches.queries import batch_view
from appointments.batches.schemas import BatchOut, BatchRow, ClosedNotEligible, ClosedTransactions
from appointments.batches.usecases import close_not_eligible, close_transactions, submit_batch
from appointments.errors import BatchStateError
from appointments.web import found, runtime

router = APIRouter(prefix="/api")


@router.get("/transaction-batches", tags=["transaction batches"], response_model=list[BatchRow], response_model_exclude_unset=True)
async def list_batches(request: Request, _user: Annotated[User, require("appointments:view")], limit: int = 100) -> list[dict[str, Any]]:
    async with runtime(request).db.session() as session:
        rows = (await session.execute(select(m.TransactionBatch).order_by(
            m.TransactionBatch.created_at.desc()).limit(min(limit, 1000)))).scalars().all()
    return [r.model_dump(mode="json") for r in rows]


@router.get("/transaction-batches/{batch_id}", tags=["transaction batches"], response_model=BatchOut, response_model_exclude_unset=True)
async def get_batch(request: Request, batch_id: str, _user: Annotated[User, require("appointments:view")]) -> dict[str, Any]:
    return found(await batch_view(runtime(request).db, batch_id), "no such batch")


class SubmitOptions(BaseModel):
    include_jit: bool = False


@router.post("/transaction-batches/{batch_id}/submit", tags=["transaction batches"], response_model=BatchOut,
             response_model_exclude_unset=True)
async def submit_batch_route(request: Request, batch_id: str, user: Annotated[User, require("appointments:submit")],
                             body: Annotated[SubmitOptions | None, Body()] = None) -> dict[str, Any]:
    try:
        async with runtime(request).uow(actor=user.login) as tx:
            await submit_batch(tx, batch_id, include_jit=bool(body and body.include_jit))
    except LookupError:
        raise HTTPException(404, "no such batch") from None
    except BatchStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return found(await batch_view(runtime(request).db, batch_id), "no such batch")


class CloseReason(BaseModel):
    reason: NonBlankStr = Field(max_length=500)


@router.post("/transaction-batches/{batch_id}/close-not-eligible", tags=["transaction batches"],
             response_model=ClosedNotEligible, response_model_exclude_unset=True)
async def close_not_eligible_route(request: Request, batch_id: str,
                                   user: Annotated[User, require("appointments:submit")],
                                   body: Annotated[CloseReason | None, Body()] = None) -> dict[str, Any]:
    async with runtime(request).uow(actor=user.login) as tx:
        if await tx.session.get(m.TransactionBatch, batch_id) is None:
            raise HTTPException(404, "no such batch")
        closed = await close_not_eligible(tx, batch_id, body.reason if body else None)
    return {"batch_id": batch_id, "closed": closed}


class CloseTransactions(CloseReason):
    transaction_ids: list[str] = Field(min_length=1, max_length=10_000)


@router.post("/transactions/close", tags=["transaction batches"], response_model=ClosedTransactions, response_model_exclude_unset=True)
async def close_transactions_route(request: Request, body: CloseTransactions,
                                   user: Annotated[User, require("appointments:submit")]) -> dict[str, Any]:
    """Close transactions by id, with a reason: Ready or JIT Held ones are withdrawn before NIPR (a
    review batch drops a row this way), Not Eligible and Rejected ones set aside. Each id that
    cannot be closed (pending at NIPR, answered, unknown) is listed with why; the rest are closed."""
    async with runtime(request).uow(actor=user.login) as tx:
        return await close_transactions(tx, body.transaction_ids, body.reason)
