"""Invoices and the payments recorded against them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column
from sqlmodel import Field

from invoicing.models.base import InvoicingModel, _bigid, _money, _rate, _ts


class Invoice(InvoicingModel, table=True):
    """A statement-entry invoice: unposted → posted (direct-bill transaction) → paid."""

    __tablename__ = "invoice"
    # no column a bulk stage rewrites (status, selection, amounts) is indexed: on PostgreSQL those
    # updates stay on their page (HOT; fillfactor 50 in migration 0008)

    id: int | None = Field(default=None, sa_column=_bigid())  # the item id, shown as "<id>(S)"
    reconciliation_id: str = Field(max_length=36, index=True)
    entry_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    policy_id: str = Field(max_length=36, index=True)
    policy_number: str = Field(max_length=100)
    client_name: str | None = Field(default=None, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    bill_type: str = Field(max_length=20)
    effective_date: date | None = None
    expiration_date: date | None = None
    premium: Decimal = Field(sa_column=_money(False))
    rate_type: str = Field(max_length=10)
    rate: Decimal | None = Field(default=None, sa_column=_rate())
    commission: Decimal = Field(sa_column=_money(False))
    people_commission_total: Decimal = Field(sa_column=_money(False))
    status: str = Field(default="unposted", max_length=20)
    paid_to_date: Decimal = Field(default=Decimal("0.00"), sa_column=_money(False))
    pay_selected: bool = False
    received: Decimal | None = Field(default=None, sa_column=_money())
    run_id: str | None = Field(default=None, max_length=36, index=True)  # the Create run that made it
    # posted and unpaid when its reconciliation was aborted: offered to (and payable in) this later
    # reconciliation of the same carrier
    carried_to: str | None = Field(default=None, max_length=36, index=True)
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
    posted_at: datetime | None = Field(default=None, sa_column=_ts())
    posted_by: str | None = Field(default=None, max_length=100)


class Payment(InvoicingModel, table=True):
    """A received amount applied to a posted invoice (Pay All Selected)."""

    __tablename__ = "payment"

    id: int | None = Field(default=None, sa_column=_bigid())
    reconciliation_id: str = Field(max_length=36, index=True)
    invoice_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    amount: Decimal = Field(sa_column=_money(False))
    paid_at: datetime = Field(sa_column=_ts(False))
    paid_by: str = Field(max_length=100)
    voided_at: datetime | None = Field(default=None, sa_column=_ts())
