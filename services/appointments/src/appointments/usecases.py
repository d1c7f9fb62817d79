"""appointments' use cases (batches and NIPR results)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from agency_common.contracts.appointments import GatewayTransaction, TransactionBatchSubmitted
from agency_common.contracts.nipr import TransactionResultReceived
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from appointments.models import AppointmentTransaction, TransactionBatch


class NewTransaction(BaseModel):
    npn: str = Field(pattern=r"^\d{1,10}$")
    state: str = Field(pattern=r"^[A-Z]{2}$")
    line_of_authority: str = Field(min_length=1, max_length=100)


class NewBatch(BaseModel):
    cocode: str = Field(pattern=r"^\d{5}$")
    kind: Literal["appointment", "termination"] = "appointment"
    transactions: list[NewTransaction] = Field(min_length=1, max_length=10_000)


class BatchStateError(ValueError):
    pass


async def create_batch(tx: Transaction, data: NewBatch) -> TransactionBatch:
    batch = TransactionBatch(cocode=data.cocode, kind=data.kind, created_by=tx.actor)
    tx.session.add(batch)
    await tx.session.flush()
    tx.session.add_all(
        AppointmentTransaction(batch_id=batch.id, kind=data.kind, npn=t.npn, state=t.state,
                               line_of_authority=t.line_of_authority, cocode=data.cocode)
        for t in data.transactions
    )
    return batch


async def submit_batch(tx: Transaction, batch_id: str) -> TransactionBatch:
    batch = await tx.session.get(TransactionBatch, batch_id, with_for_update=True)
    if batch is None:
        raise LookupError(batch_id)
    if batch.status != "draft":
        raise BatchStateError(f"batch is {batch.status}; only a draft batch can be submitted")
    rows = (await tx.session.execute(
        select(AppointmentTransaction).where(AppointmentTransaction.batch_id == batch_id,
                                             AppointmentTransaction.status == "ready"))).scalars().all()
    batch.status, batch.submitted_by, batch.submitted_at = "submitted", tx.actor, utcnow()
    for row in rows:
        row.status, row.updated_at = "submitted", utcnow()
    await tx.emit(TransactionBatchSubmitted(
        batch_id=batch.id,
        cocode=batch.cocode,
        transactions=[
            GatewayTransaction(transaction_id=r.id, idempotency_key=r.idempotency_key, kind=r.kind, npn=r.npn,
                               state=r.state, line_of_authority=r.line_of_authority, cocode=r.cocode)
            for r in rows
        ],
    ))
    return batch


async def apply_nipr_result(tx: Transaction, result: TransactionResultReceived) -> None:
    row = await tx.session.get(AppointmentTransaction, result.transaction_id)
    if row is None or row.status in ("accepted", "rejected"):
        return
    row.status = result.outcome
    row.nipr_reason = result.reason
    row.nipr_reference = result.nipr_reference
    row.updated_at = utcnow()
    await tx.session.flush()
    pending = await tx.session.scalar(
        select(func.count()).select_from(AppointmentTransaction).where(
            AppointmentTransaction.batch_id == row.batch_id, AppointmentTransaction.status == "submitted"))
    if pending == 0:
        batch = await tx.session.get(TransactionBatch, row.batch_id)
        if batch is not None and batch.status == "submitted":
            batch.status, batch.completed_at = "completed", utcnow()
