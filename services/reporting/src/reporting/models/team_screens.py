"""The Team Screens batch process's tables: its snapshots, their counts, and the single-runner lock."""

from __future__ import annotations

from datetime import datetime

from agency_common.db.types import UTCDateTime
from sqlalchemy import Column, Index, PrimaryKeyConstraint, Text
from sqlmodel import Field

from reporting.models.base import ReportingModel


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
