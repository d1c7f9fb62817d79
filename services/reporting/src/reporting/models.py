"""reporting's tables (its own metadata)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money, UTCDateTime
from agency_common.outbox import messaging_tables
from sqlalchemy import Column, Index, PrimaryKeyConstraint, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class ReportingModel(SQLModel, registry=registry()):
    pass


metadata = ReportingModel.metadata
messaging = messaging_tables(metadata)


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


# -- read models of the policy-administration system (upstream) ---------------------------------
class PolicyJob(ReportingModel, table=True):
    """A job (submission, renewal, cancellation ...) as last published upstream.

    The facts the Team Screens rules ask of a job's policy periods are derived once, at ingestion,
    from the periods it arrived with: "any period has a non-null model number", "any period is
    locked with status non-renewed", "... not taken". The periods themselves are kept as JSON for
    the item lists.
    """

    __tablename__ = "policy_jobs"
    __table_args__ = (
        # Covers the batch process: read in (user, group, type) order from the index alone, so
        # SQLite groups without sorting; also serves the per-user item lists.
        Index("ix_policy_jobs_team", "assigned_user", "assigned_group", "job_type", "close_date", "create_time",
              "has_model_number", "locked_non_renewed", "locked_not_taken"),
        Index("ix_policy_jobs_group", "assigned_group"),
    )

    job_id: str = Field(primary_key=True, max_length=100)
    version: int
    job_type: str = Field(max_length=40)
    assigned_user: str | None = Field(default=None, max_length=100)
    assigned_group: str | None = Field(default=None, max_length=100)
    create_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    close_date: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    has_model_number: bool = False
    locked_non_renewed: bool = False
    locked_not_taken: bool = False
    periods: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Activity(ReportingModel, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_team", "assigned_user", "assigned_group", "status", "target_date", "close_date"),
        Index("ix_activities_group", "assigned_group"),
    )

    activity_id: str = Field(primary_key=True, max_length=100)
    version: int
    subject: str = Field(max_length=500)
    assigned_user: str | None = Field(default=None, max_length=100)
    assigned_group: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=40)
    target_date: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    close_date: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# -- Team Screens ---------------------------------------------------------------------------------
class TeamScreenSnapshot(ReportingModel, table=True):
    """One run of the Team Screens batch process: its "calculated on" time and the windows used."""

    __tablename__ = "team_screen_snapshots"
    __table_args__ = (Index("ix_team_screen_snapshots_created_at", "created_at"),)

    id: str = Field(primary_key=True, max_length=36)
    calculated_on: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))  # when it was stored
    triggered_by: str = Field(max_length=100)
    time_zone: str = Field(max_length=64)
    activities_window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    submissions_window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    renewals_window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    other_window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    windows: str = Field(default="{}", sa_column=Column(Text(), nullable=False))  # the settings used
    duration_ms: int = 0
    instance: str = Field(default="", max_length=100)


class TeamScreenCount(ReportingModel, table=True):
    """A snapshot's count for one user or group, category and status ('' = unassigned)."""

    __tablename__ = "team_screen_counts"
    __table_args__ = (
        PrimaryKeyConstraint("snapshot_id", "scope", "assignee", "category", "status", name="pk_team_screen_counts"),
    )

    snapshot_id: str = Field(max_length=36)
    scope: str = Field(max_length=10)  # user | group
    assignee: str = Field(max_length=100)
    category: str = Field(max_length=40)
    status: str = Field(max_length=40)
    count: int = 0


class BatchLock(ReportingModel, table=True):
    """A named lock with a lease: one instance at a time runs a batch (SQLite and PostgreSQL)."""

    __tablename__ = "batch_locks"

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    lease_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# -- operations read models (from the other services' events) -------------------------------------
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
