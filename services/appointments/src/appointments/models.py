"""appointments' tables (its own metadata)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agency_common.db.types import UTCDateTime
from agency_common.outbox import messaging_tables
from agency_common.timeutil import utcnow


class AppointmentsModel(SQLModel, registry=registry()):
    pass


metadata = AppointmentsModel.metadata
messaging = messaging_tables(metadata)


def new_id() -> str:
    return str(uuid.uuid4())


class TransactionBatch(AppointmentsModel, table=True):
    """Transactions for one CoCode, submitted together to the NIPR gateway."""

    __tablename__ = "transaction_batches"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    cocode: str = Field(max_length=10, index=True)
    kind: str = Field(max_length=20)  # appointment | termination
    status: str = Field(default="draft", max_length=20)  # draft | submitted | completed
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    submitted_by: str | None = Field(default=None, max_length=100)
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class AppointmentTransaction(AppointmentsModel, table=True):
    __tablename__ = "appointment_transactions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    batch_id: str = Field(foreign_key="transaction_batches.id", index=True, max_length=36)
    kind: str = Field(max_length=20)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    cocode: str = Field(max_length=10)
    status: str = Field(default="ready", max_length=30)  # ready | submitted | accepted | rejected
    nipr_reason: str | None = Field(default=None, max_length=500)
    nipr_reference: str | None = Field(default=None, max_length=100)
    idempotency_key: str = Field(default_factory=new_id, unique=True, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
