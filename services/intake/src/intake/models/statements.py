"""Carrier statements, their lines, and the carrier profiles that read them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money, Rate, UTCDateTime
from agency_common.timeutil import utcnow
from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field

from intake.models.base import IntakeModel, new_id


class CarrierProfile(IntakeModel, table=True):
    """A carrier's column mapping, transaction-code → bill-type mapping and policy-number prefixes
    (JSON text), and its default commission rate."""

    __tablename__ = "carrier_profiles"

    carrier: str = Field(primary_key=True, max_length=200)
    columns: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    bill_types: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    prefixes: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    sheet: str | None = Field(default=None, max_length=100)
    # the agency's commission rate for this carrier's policies that bring none of their own
    default_commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Statement(IntakeModel, table=True):
    """One imported carrier statement (a file, or a feed's statement)."""

    __tablename__ = "statements"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
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
    # One importer at a time (two replicas share the database): the instance importing it, until
    # when; another takes it over only once the lease has run out (its holder is gone).
    claimed_by: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
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
    # every statement's query names the statement (migration 0005 says why there is no second index on
    # it); a policy's page finds its lines by policy: a partial index, so unmatched lines cost nothing
    __table_args__ = (UniqueConstraint("statement_id", "line_no", name="uq_statement_line_no"),
                      Index("ix_statement_lines_policy", "policy_id", "id",
                            sqlite_where=text("policy_id IS NOT NULL"),
                            postgresql_where=text("policy_id IS NOT NULL")))

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
