"""invoicing's tables (its own metadata)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money, Rate, UTCDateTime
from agency_common.outbox import messaging_tables
from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class InvoicingModel(SQLModel, registry=registry()):
    pass


metadata = InvoicingModel.metadata
messaging = messaging_tables(metadata)


def _bigid() -> Column:  # type: ignore[type-arg]
    return Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


def _money(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(Money(), nullable=nullable)


def _rate() -> Column:  # type: ignore[type-arg]
    return Column(Rate(), nullable=True)


def _ts(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


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


class Reconciliation(InvoicingModel, table=True):
    """A direct-bill reconciliation against a carrier (seed 003): its header and stage."""

    __tablename__ = "reconciliation"

    id: str = Field(primary_key=True, max_length=36)
    # "reconciliation N" in words an operator reads (the next number when it is opened)
    number: int | None = Field(default=None, sa_column=Column(Integer, nullable=True, index=True, unique=True))
    entity_type: str = Field(default="carrier", max_length=20)
    carrier: str = Field(max_length=200, index=True)
    subordinate_carrier: str | None = Field(default=None, max_length=200)
    name: str = Field(max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    internal_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    statement_id: str | None = Field(default=None, max_length=36, unique=True)
    statement_date: date | None = None
    statement_file: str | None = Field(default=None, max_length=300)
    statement_line_count: int | None = None
    statement_chunk_count: int | None = None
    # The carrier's statement total (commission); None: the selected rows' commission paid.
    statement_total: Decimal | None = Field(default=None, sa_column=_money())
    received_total: Decimal = Field(default=Decimal("0.00"), sa_column=_money(False))
    status: str = Field(default="open", max_length=20, index=True)
    version: int = 1
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
    updated_at: datetime = Field(sa_column=_ts(False))
    updated_by: str = Field(max_length=100)
    closed_at: datetime | None = Field(default=None, sa_column=_ts())
    closed_by: str | None = Field(default=None, max_length=100)
    aborted_at: datetime | None = Field(default=None, sa_column=_ts())
    aborted_by: str | None = Field(default=None, max_length=100)
    aborted_stage: str | None = Field(default=None, max_length=20)


class StatementEntry(InvoicingModel, table=True):
    """One row of statement entry: a policy (or statement line) with the amounts to invoice."""

    __tablename__ = "statement_entry"
    __table_args__ = (
        UniqueConstraint("reconciliation_id", "source_key", name="uq_entry_source"),
        Index("ix_entry_rec_selected", "reconciliation_id", "selected"),
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


class Invoice(InvoicingModel, table=True):
    """A statement-entry invoice: unposted → posted (direct-bill transaction) → paid."""

    __tablename__ = "invoice"
    __table_args__ = (Index("ix_invoice_rec_status", "reconciliation_id", "status"),)

    id: int | None = Field(default=None, sa_column=_bigid())  # the item id, shown as "<id>(S)"
    reconciliation_id: str = Field(max_length=36)
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


class Job(InvoicingModel, table=True):
    """A background job on a large reconciliation with its progress; kind: create-invoices, post, pay,
    create-pay-all or create-pay-post (see jobs.KINDS)."""

    __tablename__ = "job"

    id: str = Field(primary_key=True, max_length=36)
    reconciliation_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=30)
    status: str = Field(default="queued", max_length=20)  # queued | running | done | failed
    total: int = 0
    done: int = 0
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
    finished_at: datetime | None = Field(default=None, sa_column=_ts())


class IdempotentRequest(InvoicingModel, table=True):
    """A mutating request already answered: a repeated click gets the same answer, nothing twice."""

    __tablename__ = "idempotent_request"

    key: str = Field(primary_key=True, max_length=100)
    reconciliation_id: str = Field(max_length=36)
    operation: str = Field(max_length=40)
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
