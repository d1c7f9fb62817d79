"""intake's tables. Its own metadata (a SQLModel registry of its own), so its migrations see
nothing of another service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agency_common.db.types import Money, UTCDateTime
from agency_common.outbox import messaging_tables
from agency_common.timeutil import utcnow


class IntakeModel(SQLModel, registry=registry()):
    pass


metadata = IntakeModel.metadata
messaging = messaging_tables(metadata)


class Policy(IntakeModel, table=True):
    """A policy of the book of business. intake is its system of record."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("carrier", "policy_number", name="uq_policy_carrier_number"),)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    version: int = 1
    carrier: str = Field(max_length=200, index=True)
    policy_number: str = Field(max_length=100)
    client_name: str = Field(max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=50)
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    annualized_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    session_id: str | None = Field(default=None, max_length=36, index=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
