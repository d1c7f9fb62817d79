"""invoicing's tables (its own metadata)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agency_common.db.types import Money, Rate, UTCDateTime
from agency_common.outbox import messaging_tables


class InvoicingModel(SQLModel, registry=registry()):
    pass


metadata = InvoicingModel.metadata
messaging = messaging_tables(metadata)


class PolicyView(InvoicingModel, table=True):
    """Read model of intake's policies, built from ``intake.policies.v1``."""

    __tablename__ = "policy_view"

    policy_id: str = Field(primary_key=True, max_length=36)
    version: int
    carrier: str = Field(max_length=200, index=True)
    policy_number: str = Field(max_length=100, index=True)
    client_name: str = Field(max_length=300)
    bill_to_name: str | None = Field(default=None, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    status: str | None = Field(default=None, max_length=50)
    in_history: bool = False
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    annualized_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    commission_rate_type: str | None = Field(default=None, max_length=10)
    commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
