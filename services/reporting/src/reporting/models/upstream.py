"""Read models of the policy-administration system (upstream jobs and activities): what the
Team Screens count."""

from __future__ import annotations

from datetime import datetime

from agency_common.db.types import UTCDateTime
from sqlalchemy import Column, Index, Text
from sqlmodel import Field

from reporting.models.base import ReportingModel


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
