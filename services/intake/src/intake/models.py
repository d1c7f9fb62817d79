"""intake's tables. Its own metadata (a SQLModel registry of its own), so its migrations see
nothing of another service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agency_common.db.types import Money, Rate, UTCDateTime
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
    client_id: str | None = Field(default=None, max_length=36, index=True)
    client_name: str = Field(max_length=300)
    bill_to_name: str | None = Field(default=None, max_length=300)
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=100)
    commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
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


def _uuid() -> str:
    return str(uuid.uuid4())


class Client(IntakeModel, table=True):
    """A client of the book of business, found by its normalised name when policies are created."""

    __tablename__ = "clients"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    name: str = Field(max_length=300)
    normalised_name: str = Field(max_length=300, unique=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PolicyTermPremium(IntakeModel, table=True):
    """Annualized and billed premium of one policy term, as posted invoices left them."""

    __tablename__ = "policy_term_premiums"

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    policy_id: str = Field(max_length=36, index=True)
    term_start: date | None = None
    term_end: date | None = None
    annualized: Decimal = Field(sa_column=Column(Money(), nullable=False))
    billed: Decimal = Field(sa_column=Column(Money(), nullable=False))


class CarrierProfile(IntakeModel, table=True):
    """A carrier's column mapping, transaction-code → bill-type mapping and policy-number prefixes
    (JSON text)."""

    __tablename__ = "carrier_profiles"

    carrier: str = Field(primary_key=True, max_length=200)
    columns: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    bill_types: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    prefixes: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    sheet: str | None = Field(default=None, max_length=100)
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Statement(IntakeModel, table=True):
    """One imported carrier statement (a file, or a feed's statement)."""

    __tablename__ = "statements"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    carrier: str = Field(max_length=200, index=True)
    source: str = Field(max_length=20)  # upload | feed
    file_name: str = Field(max_length=300)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    size_bytes: int | None = None
    stored_path: str | None = Field(default=None, max_length=500)
    sheet: str | None = Field(default=None, max_length=100)
    feed_statement_id: str | None = Field(default=None, max_length=200, unique=True)
    header: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # JSON list of header cells
    statement_date: date | None = None
    duplicate_of: str | None = Field(default=None, max_length=36)
    status: str = Field(default="queued", max_length=20, index=True)
    # queued | processing | receiving | imported | failed | published
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    detected: str | None = Field(default=None, max_length=200)  # format, encoding, delimiter, header line
    rows_processed: int = 0
    total: int = 0
    valid: int = 0
    invalid: int = 0
    blank: int = 0
    matched: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    excluded: int = 0
    imported_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    published_by: str | None = Field(default=None, max_length=100)
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class StatementLineRow(IntakeModel, table=True):
    """Every non-blank row of a statement, valid or not, with its line number, raw values, reasons
    and match."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        UniqueConstraint("statement_id", "line_no", name="uq_statement_line_no"),
        Index("ix_statement_lines_match", "statement_id", "match_status"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    statement_id: str = Field(max_length=36)
    line_no: int
    valid: bool
    errors: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    raw: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # JSON list of cells
    policy_number: str | None = Field(default=None, max_length=100)
    normalised_number: str | None = Field(default=None, max_length=100)
    insured_name: str | None = Field(default=None, max_length=300)
    transaction_type: str | None = Field(default=None, max_length=50)
    bill_type: str | None = Field(default=None, max_length=20)
    effective_date: date | None = None
    expiration_date: date | None = None
    line_of_business: str | None = Field(default=None, max_length=100)
    premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
    commission_amount: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    producer_code: str | None = Field(default=None, max_length=100)
    match_status: str | None = Field(default=None, max_length=20)  # matched | unmatched | ambiguous
    match_reason: str | None = Field(default=None, max_length=500)
    policy_id: str | None = Field(default=None, max_length=36)
    excluded: bool = False


class PolicySession(IntakeModel, table=True):
    """One Create-Policies action (seed 000)."""

    __tablename__ = "policy_sessions"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    number: int = Field(index=True)  # the system-generated session number shown to users
    statement_id: str | None = Field(default=None, max_length=36, index=True)
    carrier: str = Field(max_length=200)
    created_by: str = Field(max_length=100, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    count: int
    idempotency_key: str = Field(max_length=200, unique=True)
    defaults: str = Field(default="{}", sa_column=Column(Text(), nullable=False))


class PolicyUpdateAudit(IntakeModel, table=True):
    """One Update Policies (by Carrier) action: who, when, which filter, what changed, how many."""

    __tablename__ = "policy_update_audits"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    carrier: str = Field(max_length=200, index=True)
    filters: str = Field(sa_column=Column(Text(), nullable=False))
    changes: str = Field(sa_column=Column(Text(), nullable=False))
    count: int
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
