"""Transactions (written only by ``transactions/transactions.py``), their batches, and the carrier
appointments NIPR's answers make or end."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from agency_common.db.types import Money, UTCDateTime
from agency_common.timeutil import utcnow
from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field

from appointments.domain import vocabulary as v
from appointments.models.base import AppointmentsModel, new_id, ts


class TransactionBatch(AppointmentsModel, table=True):
    """Transactions for one CoCode, submitted together to the NIPR gateway."""

    __tablename__ = "transaction_batches"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    cocode: str = Field(max_length=10, index=True)
    kind: str = Field(max_length=20)  # appointment | termination
    status: str = Field(default="draft", max_length=20)  # draft | submitted | completed | closed
    source: str | None = Field(default=None, max_length=50)  # api | file | dashboard | termination-import
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    submitted_by: str | None = Field(default=None, max_length=100)
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_reason: str | None = Field(default=None, max_length=200)  # why it closed by itself
    import_id: str | None = Field(default=None, max_length=36, index=True)  # the termination file it came from


class AppointmentTransaction(AppointmentsModel, table=True):
    __tablename__ = "appointment_transactions"
    __table_args__ = (
        # At most one identical transaction pending at NIPR: no fee is paid twice.
        Index("uq_transaction_pending", "identity_key", unique=True,
              sqlite_where=text("status = 'Submitted'"), postgresql_where=text("status = 'Submitted'")),
        Index("ix_transaction_identity", "npn", "state", "cocode"),
        Index("ix_transaction_batch_status", "batch_id", "status"),  # "anything still pending in this batch?"
        Index("ix_transaction_created", "created_at", "id"),  # the transaction list, newest first, a page at a time
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    batch_id: str = Field(foreign_key="transaction_batches.id", index=True, max_length=36)
    kind: str = Field(max_length=20)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    cocode: str = Field(max_length=10)
    status: str = Field(default=v.READY, max_length=30)
    nipr_reason: str | None = Field(default=None, max_length=500)
    nipr_reference: str | None = Field(default=None, max_length=100)
    idempotency_key: str = Field(default_factory=new_id, unique=True, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    loa_category: str | None = Field(default=None, max_length=100)
    eligibility_reason: str | None = Field(default=None, max_length=300)
    billable: bool = True
    jit: bool = False
    fee: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    license_number: str | None = Field(default=None, max_length=50)
    # kind|npn|state|line (normalised)|cocode|license: what makes two transactions "identical"
    identity_key: str | None = Field(default=None, max_length=400)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = ts(nullable=True)
    submitted_at: datetime | None = ts(nullable=True)
    answered_at: datetime | None = ts(nullable=True)
    for_cause: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})  # terminations
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = ts(nullable=True)
    close_reason: str | None = Field(default=None, max_length=500)
    # Not Eligible: the facts that decided it as the engine saw them then (domain.requests.Why.to_json)
    explanation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class CarrierAppointment(AppointmentsModel, table=True):
    """An appointment as NIPR confirmed it (Appointed), or ended (Terminated)."""

    __tablename__ = "carrier_appointments"
    __table_args__ = (UniqueConstraint("npn", "state", "line_of_authority", "cocode", name="uq_carrier_appointment"),)

    id: int | None = Field(default=None, primary_key=True)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    loa_category: str | None = Field(default=None, max_length=100)
    cocode: str = Field(max_length=10, index=True)
    status: str = Field(max_length=20)  # Appointed | Terminated
    appointed_at: datetime | None = ts(nullable=True)
    terminated_at: datetime | None = ts(nullable=True)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    nipr_reference: str | None = Field(default=None, max_length=100)
    last_transaction_id: str | None = Field(default=None, max_length=36)
