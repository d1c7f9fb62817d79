"""The statement entry: its lines, people commissions, exceptions and applied chunks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Rate
from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field

from invoicing.models.base import InvoicingModel, _bigid, _money, _rate, _ts


class StatementEntry(InvoicingModel, table=True):
    """One row of statement entry: a policy (or statement line) with the amounts to invoice."""

    __tablename__ = "statement_entry"
    # ``selected`` is not indexed: Select All rewrites it on every row (HOT on PostgreSQL, migration 0008)
    __table_args__ = (
        UniqueConstraint("reconciliation_id", "source_key", name="uq_entry_source"),
        Index("ix_entry_rec_policy_number", "reconciliation_id", "policy_number"),
    )

    id: int | None = Field(default=None, sa_column=_bigid())
    reconciliation_id: str = Field(max_length=36)
    # "line:<statement line id>" or "policy:<policy id>"; None on rows added by "add rows".
    source_key: str | None = Field(default=None, max_length=80)
    duplicate_of: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    line_no: int | None = None
    policy_id: str | None = Field(default=None, max_length=36, index=True)
    policy_number: str = Field(max_length=100)
    client_name: str | None = Field(default=None, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    transaction_type: str | None = Field(default=None, max_length=20)
    selected: bool = False
    selected_at: datetime | None = Field(default=None, sa_column=_ts())
    selected_by: str | None = Field(default=None, max_length=100)
    effective_date: date | None = None
    expiration_date: date | None = None
    premium_paid: Decimal | None = Field(default=None, sa_column=_money())
    rate_type: str = Field(default="percent", max_length=10)
    rate: Decimal | None = Field(default=None, sa_column=_rate())
    commission_paid: Decimal | None = Field(default=None, sa_column=_money())
    bill_type: str | None = Field(default=None, max_length=20)
    # the same line already invoiced elsewhere (domain.duplicates) invoiced again anyway: who confirmed it
    duplicate_confirmed_at: datetime | None = Field(default=None, sa_column=_ts())
    duplicate_confirmed_by: str | None = Field(default=None, max_length=100)
    # held back by the last Create run as such a line, not confirmed (set just before its INSERT ... SELECT)
    duplicate_held: bool = False
    version: int = 1
    updated_at: datetime = Field(sa_column=_ts(False))
    updated_by: str = Field(max_length=100)


class OtherCommission(InvoicingModel, table=True):
    """An other (people) commission of one statement-entry row, with its production credit."""

    __tablename__ = "other_commission"

    id: int | None = Field(default=None, sa_column=_bigid())
    reconciliation_id: str = Field(max_length=36, index=True)
    entry_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    employee: str = Field(max_length=200)
    production_role: str = Field(max_length=50)
    commission_on: str = Field(max_length=50)  # from the policy: not changeable
    level_lob: str | None = Field(default=None, max_length=100)  # from the policy: not changeable
    production_credit: Decimal = Field(sa_column=_money(False))
    rate_type: str = Field(max_length=10)
    rate: Decimal = Field(sa_column=Column(Rate(), nullable=False))
    amount: Decimal = Field(sa_column=_money(False))
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)


class PeopleCommissionDefault(InvoicingModel, table=True):
    """A carrier's other-commission defaults for an employee (filled in when the employee is picked)."""

    __tablename__ = "people_commission_default"
    __table_args__ = (UniqueConstraint("carrier", "employee", name="uq_people_default"),)

    id: int | None = Field(default=None, primary_key=True)
    carrier: str = Field(max_length=200)
    employee: str = Field(max_length=200)
    production_role: str = Field(max_length=50)
    rate_type: str = Field(max_length=10)
    rate: Decimal = Field(sa_column=Column(Rate(), nullable=False))
    credit_share: Decimal | None = Field(default=None, sa_column=_rate())  # of the agency commission
    updated_at: datetime = Field(sa_column=_ts(False))
    updated_by: str = Field(max_length=100)


class ReconciliationException(InvoicingModel, table=True):
    """A selected row Create/Pay All could not invoice: a production-credit discrepancy."""

    __tablename__ = "reconciliation_exception"
    __table_args__ = (UniqueConstraint("reconciliation_id", "entry_id", name="uq_exception_entry"),)

    id: int | None = Field(default=None, sa_column=_bigid())
    reconciliation_id: str = Field(max_length=36)
    entry_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    reasons: str = Field(max_length=200)
    commission: Decimal | None = Field(default=None, sa_column=_money())
    credit_total: Decimal = Field(sa_column=_money(False))
    people_total: Decimal = Field(sa_column=_money(False))
    status: str = Field(default="open", max_length=20)  # open | resolved
    detected_at: datetime = Field(sa_column=_ts(False))
    detected_by: str = Field(max_length=100)


class StatementChunk(InvoicingModel, table=True):
    """A statement-lines chunk already applied (chunks re-published with new event ids apply once)."""

    __tablename__ = "statement_chunk"

    statement_id: str = Field(primary_key=True, max_length=36)
    chunk_no: int = Field(primary_key=True)
    line_count: int
    received_at: datetime = Field(sa_column=_ts(False))
