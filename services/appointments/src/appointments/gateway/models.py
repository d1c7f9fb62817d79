"""The gateway's own tables: every transaction it was given, by idempotency key.

A row is recorded (``pending``) in the same transaction as the inbox row of the batch that brought
it, and claimed (``submitting``, ``claimed_by``, leased until ``next_attempt_at``) in a committed
transaction *before* NIPR is called, by exactly one gateway instance; a row found
``submitting`` after a crash or a failed call is first looked up at NIPR by its key, and only
submitted again if NIPR never received it. So a retry never submits twice.
"""

from __future__ import annotations

from datetime import datetime

from agency_common.db.types import UTCDateTime
from agency_common.outbox import messaging_tables
from agency_common.timeutil import utcnow
from sqlalchemy import Column, Index, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayModel(SQLModel, registry=registry()):
    pass


metadata = GatewayModel.metadata
messaging = messaging_tables(metadata)


class Submission(GatewayModel, table=True):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_due", "status", "next_attempt_at"),)

    idempotency_key: str = Field(primary_key=True, max_length=64)
    transaction_id: str = Field(max_length=36, index=True)
    batch_id: str = Field(max_length=36, index=True)
    state: str = Field(max_length=2)
    kind: str = Field(default="appointment", max_length=20)
    npn: str | None = Field(default=None, max_length=10)
    line_of_authority: str | None = Field(default=None, max_length=150)
    cocode: str | None = Field(default=None, max_length=10)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    for_cause: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    status: str = Field(default="answered", max_length=20)  # pending | submitting | answered | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    received_at: datetime | None = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=True))
    outcome: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    nipr_reference: str | None = Field(default=None, max_length=100)
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # The gateway instance that claimed the row last (its lease is ``next_attempt_at``).
    claimed_by: str | None = Field(default=None, max_length=100)


class LicenseLookup(GatewayModel, table=True):
    """Each PDB look-up the gateway made for appointments' license sync."""

    __tablename__ = "license_lookups"

    request_id: str = Field(primary_key=True, max_length=64)
    npn: str = Field(max_length=10, index=True)
    found: bool
    licenses: int = 0
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
