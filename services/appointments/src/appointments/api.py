"""appointments' JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from agency_common.auth import CurrentUser, User, require
from appointments.models import AppointmentTransaction, TransactionBatch
from appointments.usecases import BatchStateError, NewBatch, create_batch, submit_batch

router = APIRouter(prefix="/api", tags=["transaction batches"])


async def batch_view(request: Request, batch_id: str) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as session:
        batch = await session.get(TransactionBatch, batch_id)
        if batch is None:
            raise HTTPException(404, "no such batch")
        rows = (await session.execute(select(AppointmentTransaction).where(
            AppointmentTransaction.batch_id == batch_id).order_by(AppointmentTransaction.state))).scalars().all()
    return batch.model_dump(mode="json") | {
        "transactions": [r.model_dump(mode="json", exclude={"idempotency_key"}) for r in rows]
    }


@router.post("/transaction-batches", status_code=201)
async def create_batch_route(
    request: Request, body: NewBatch, user: Annotated[User, require("appointments:submit")]
) -> dict[str, Any]:
    async with request.app.state.runtime.uow(actor=user.login) as tx:
        batch = await create_batch(tx, body)
    return await batch_view(request, batch.id)


@router.get("/transaction-batches/{batch_id}")
async def get_batch(request: Request, batch_id: str, _user: CurrentUser) -> dict[str, Any]:
    return await batch_view(request, batch_id)


@router.post("/transaction-batches/{batch_id}/submit")
async def submit_batch_route(
    request: Request, batch_id: str, user: Annotated[User, require("appointments:submit")]
) -> dict[str, Any]:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            await submit_batch(tx, batch_id)
    except LookupError:
        raise HTTPException(404, "no such batch") from None
    except BatchStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return await batch_view(request, batch_id)
