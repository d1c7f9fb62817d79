"""The book of business: policies, their clients and terms, and Update Policies (by Carrier) audits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money, Rate, UTCDateTime
from agency_common.timeutil import utcnow
from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field

from intake.models.base import IntakeModel, new_id


class Policy(IntakeModel, table=True):
    """A policy of the book of business. intake is its system of record."""

    __tablename__ = "policies"
    __table_args__ = (
        UniqueConstraint("carrier", "policy_number", name="uq_policy_carrier_number"),
        # covering indexes for the Individual Advanced Search's policy filters
        Index("ix_policies_lob_effective", "line_of_business", "effective_date", "client_id"),
        Index("ix_policies_expiration", "expiration_date", "client_id"),
    )

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
    # the current term's (the latest of its terms, see PolicyTerm): dates above, totals here
    annualized_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    estimated_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    session_id: str | None = Field(default=None, max_length=36, index=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Client(IntakeModel, table=True):
    """A client of the book of business, found by its normalised name when policies are created."""

    __tablename__ = "clients"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=300)
    normalised_name: str = Field(max_length=300, unique=True)
    # person | organisation (intake.domain.insured); None: created before clients were classified
    kind: str | None = Field(default=None, max_length=20)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PolicyTerm(IntakeModel, table=True):
    """One term of a policy (effective → expiration) with its own totals, as posted invoices left
    them (intake.policies.domain.premium). Every policy has at least one; the latest is its current term."""

    __tablename__ = "policy_terms"

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    policy_id: str = Field(max_length=36, index=True)
    effective_date: date | None = None
    expiration_date: date | None = None
    annualized_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    estimated_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))


class PolicyUpdateAudit(IntakeModel, table=True):
    """One Update Policies (by Carrier) action: who, when, which filter, what changed, how many."""

    __tablename__ = "policy_update_audits"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    carrier: str = Field(max_length=200, index=True)
    filters: str = Field(sa_column=Column(Text(), nullable=False))
    changes: str = Field(sa_column=Column(Text(), nullable=False))
    count: int
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PolicyPosting(IntakeModel, table=True):
    """A posted invoice as intake applied it to a policy's terms (``InvoicePosted`` or one invoice of an
    ``InvoicesPosted`` chunk): the policy page lists them and links each to its reconciliation."""

    __tablename__ = "policy_postings"
    __table_args__ = (Index("ix_policy_postings_policy", "policy_id", "posted_at", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    policy_id: str = Field(max_length=36)
    invoice_id: str = Field(max_length=100)
    reconciliation_id: str | None = Field(default=None, max_length=100)
    bill_type: str = Field(max_length=20)
    effective_date: date | None = None
    expiration_date: date | None = None
    premium: Decimal = Field(sa_column=Column(Money(), nullable=False))
    commission: Decimal = Field(sa_column=Column(Money(), nullable=False))
    event_id: str | None = Field(default=None, max_length=36)  # the event that brought it
    posted_by: str | None = Field(default=None, max_length=100)  # the event's actor
    posted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    applied_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
