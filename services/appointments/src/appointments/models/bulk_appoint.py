"""Background bulk appoint: the job and its requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

from appointments.models.base import AppointmentsModel, new_id, ts


class AppointJob(AppointmentsModel, table=True):
    """A bulk appoint above the synchronous threshold: its requests are processed in chunks, each
    chunk one transaction claimed by a ``bulk_appoint_calls`` row ``job:<id>:<chunk>`` (a chunk is
    never done twice, even after a crash or by two processes)."""

    __tablename__ = "appointment_jobs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    status: str = Field(default="queued", max_length=20)  # queued | running | done | failed
    source: str = Field(default="api", max_length=20)  # api | file | dashboard
    total: int = 0  # requests
    processed: int = 0
    rejected: int = 0  # requests rejected (NPN not found / not synced / not active, outside the assignment)
    transactions: int = 0  # transactions created
    chunk_size: int = 100
    batches: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # cocode → batch
    row_errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # file rows
    blank_rows: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: str = Field(max_length=100)
    created_at: datetime = ts()
    started_at: datetime | None = ts(nullable=True)
    finished_at: datetime | None = ts(nullable=True)


class AppointJobItem(AppointmentsModel, table=True):
    """One request of a background bulk appoint, and its result once its chunk is done."""

    __tablename__ = "appointment_job_items"

    job_id: str = Field(foreign_key="appointment_jobs.id", primary_key=True, max_length=36)
    seq: int = Field(primary_key=True)
    line: int | None = None  # the file's line
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
