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
    # The ids behind every count are kept (team_screen_items) until retention drops them; then, and
    # for snapshots older than the items table, a drill-down re-queries the live data.
    items_stored: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Computed "as of" a past time (calculated_on) from today's read model; not a "latest" snapshot.
    as_of: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # For an "as of" snapshot: how many counted items were changed after that time (their state then
    # may have differed from the one used).
    changed_after: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


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


class TeamScreenItem(ReportingModel, table=True):
    """One item behind one count of a snapshot: the activity or job id with the user and group it was
    assigned to at the calculation ('' = unassigned). A count is the number of its rows."""

    __tablename__ = "team_screen_items"
    __table_args__ = (
        PrimaryKeyConstraint("snapshot_id", "category", "status", "item_id", name="pk_team_screen_items"),
        Index("ix_team_screen_items_user", "snapshot_id", "category", "status", "assigned_user"),
        Index("ix_team_screen_items_group", "snapshot_id", "category", "status", "assigned_group"),
    )

    snapshot_id: str = Field(max_length=36)
    category: str = Field(max_length=40)
    status: str = Field(max_length=40)
    item_id: str = Field(max_length=100)
    assigned_user: str = Field(max_length=100)
    assigned_group: str = Field(max_length=100)


class TeamScreenWindow(ReportingModel, table=True):
    """A category's window as an administrator set it (over the ``team_screens_*_window`` setting)."""

    __tablename__ = "team_screen_windows"

    category: str = Field(primary_key=True, max_length=40)
    window: str = Field(max_length=20)  # this_week | this_month | <N>d
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class BatchLock(ReportingModel, table=True):
    """A named lock with a lease: one instance at a time runs a batch (SQLite and PostgreSQL)."""

    __tablename__ = "batch_locks"

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    lease_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
