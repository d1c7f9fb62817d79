"""The operations read models, fed by every other service's events: events and dead letters
counted, statements, sessions, policies, reconciliations, invoices, payments, appointment
transactions and NIPR results."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money, UTCDateTime
from sqlalchemy import Column, Index, PrimaryKeyConstraint
from sqlmodel import Field

from reporting.models.base import ReportingModel


class EventCount(ReportingModel, table=True):
    """Events seen per topic, type and day: the base of the operations views."""

    __tablename__ = "event_counts"
    __table_args__ = (PrimaryKeyConstraint("topic", "event_type", "day", name="pk_event_counts"),)

    topic: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    day: date
    count: int = 0


class DeadLetterCount(ReportingModel, table=True):
    """Messages dead-lettered per original topic (read from every ``.dlt`` topic)."""

    __tablename__ = "dead_letter_counts"

    topic: str = Field(primary_key=True, max_length=200)
    count: int = 0




class OpsStatement(ReportingModel, table=True):
    __tablename__ = "ops_statements"

    statement_id: str = Field(primary_key=True, max_length=100)
    carrier: str = Field(max_length=200)
    file_name: str = Field(max_length=500)
    imported_by: str = Field(max_length=100)
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    day: date
    total_rows: int = 0
    valid_rows: int = 0
    invalid_rows: int = 0
    blank_rows: int = 0


class OpsPolicySession(ReportingModel, table=True):
    __tablename__ = "ops_policy_sessions"

    session_id: str = Field(primary_key=True, max_length=100)
    statement_id: str | None = Field(default=None, max_length=100)
    carrier: str = Field(max_length=200)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    day: date
    count: int = 0


class OpsPolicy(ReportingModel, table=True):
    """A policy intake created (from ``intake.policy.created``): who, when, in which session."""

    __tablename__ = "ops_policies"
    __table_args__ = (Index("ix_ops_policies_session", "session_id"),)

    policy_id: str = Field(primary_key=True, max_length=100)
    session_id: str | None = Field(default=None, max_length=100)
    carrier: str = Field(max_length=200)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    day: date


class OpsReconciliation(ReportingModel, table=True):
    __tablename__ = "ops_reconciliations"

    reconciliation_id: str = Field(primary_key=True, max_length=100)
    carrier: str = Field(max_length=200)
    status: str = Field(max_length=40)
    statement_total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    received_total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    difference: Decimal = Field(sa_column=Column(Money(), nullable=False))
    entry_count: int = 0
    exception_count: int = 0
    changed_by: str = Field(max_length=100)
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OpsInvoice(ReportingModel, table=True):
    __tablename__ = "ops_invoices"

    invoice_id: str = Field(primary_key=True, max_length=100)
    reconciliation_id: str = Field(max_length=100)
    bill_type: str = Field(max_length=40)
    premium: Decimal = Field(sa_column=Column(Money(), nullable=False))
    commission: Decimal = Field(sa_column=Column(Money(), nullable=False))
    posted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OpsPayment(ReportingModel, table=True):
    __tablename__ = "ops_payments"

    event_id: str = Field(primary_key=True, max_length=36)
    reconciliation_id: str = Field(max_length=100)
    invoice_count: int = 0
    received_total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    paid_by: str = Field(max_length=100)
    paid_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    day: date


class OpsTransaction(ReportingModel, table=True):
    """An appointment or termination transaction's latest known state."""

    __tablename__ = "ops_transactions"

    transaction_id: str = Field(primary_key=True, max_length=100)
    batch_id: str | None = Field(default=None, max_length=100)
    kind: str = Field(max_length=20)
    npn: str = Field(max_length=20)
    state: str = Field(max_length=10)
    line_of_authority: str = Field(max_length=100)
    cocode: str = Field(max_length=20)
    status: str = Field(max_length=40)
    eligibility_reason: str | None = Field(default=None, max_length=200)
    billable: bool = False
    fee: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    turnaround_seconds: int | None = None
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OpsNiprResult(ReportingModel, table=True):
    """What NIPR answered for a transaction (the gateway's ``nipr.transaction-result.received``)."""

    __tablename__ = "ops_nipr_results"

    transaction_id: str = Field(primary_key=True, max_length=100)
    batch_id: str = Field(max_length=100)
    outcome: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    processed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
