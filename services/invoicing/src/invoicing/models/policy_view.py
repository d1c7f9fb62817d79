"""The read model of intake's policies and carriers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Text
from sqlmodel import Field

from invoicing.models.base import InvoicingModel, _money, _rate, _ts


class PolicyView(InvoicingModel, table=True):
    """Read model of intake's policies, built from ``intake.policies.v1``."""

    __tablename__ = "policy_view"

    policy_id: str = Field(primary_key=True, max_length=36)
    version: int
    carrier: str = Field(max_length=200, index=True)
    policy_number: str = Field(max_length=100, index=True)
    client_id: str | None = Field(default=None, max_length=36)
    client_name: str = Field(max_length=300)
    bill_to_name: str | None = Field(default=None, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    status: str | None = Field(default=None, max_length=50)
    in_history: bool = False
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, sa_column=_money())
    annualized_premium: Decimal | None = Field(default=None, sa_column=_money())
    billed_premium: Decimal | None = Field(default=None, sa_column=_money())
    commission_rate_type: str | None = Field(default=None, max_length=10)
    commission_rate: Decimal | None = Field(default=None, sa_column=_rate())
    estimated_agency_commission: Decimal | None = Field(default=None, sa_column=_money())
    billed_agency_commission: Decimal | None = Field(default=None, sa_column=_money())
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(sa_column=_ts(False))


class CarrierView(InvoicingModel, table=True):
    """Read model of intake's carrier registry, built from ``intake.carriers.v1``: the carriers a
    reconciliation is opened against, with their subordinates and addresses (JSON lists)."""

    __tablename__ = "carrier_view"

    carrier_id: str = Field(primary_key=True, max_length=36)
    version: int
    name: str = Field(max_length=200, index=True)
    naic_code: str | None = Field(default=None, max_length=5)
    subordinates: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    addresses: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    active: bool = True
    updated_at: datetime = Field(sa_column=_ts(False))


class CarrierKey(InvoicingModel, table=True):
    """How a typed name finds a carrier of ``carrier_view``: the key of its name and of each alias."""

    __tablename__ = "carrier_keys"

    key: str = Field(primary_key=True, max_length=200)
    carrier_id: str = Field(max_length=36, index=True)
