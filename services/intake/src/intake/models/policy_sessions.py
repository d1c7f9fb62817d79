"""Create Policies: its sessions and background jobs."""

from __future__ import annotations

from datetime import datetime

from agency_common.db.types import UTCDateTime
from agency_common.timeutil import utcnow
from sqlalchemy import Column, Integer, Text
from sqlmodel import Field

from intake.models.base import IntakeModel, new_id


class PolicySession(IntakeModel, table=True):
    """One Create-Policies action (seed 000)."""

    __tablename__ = "policy_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    number: int = Field(index=True)  # the system-generated session number shown to users
    statement_id: str | None = Field(default=None, max_length=36, index=True)
    carrier: str = Field(max_length=200)
    created_by: str = Field(max_length=100, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    count: int
    refused: int = Field(default=0, sa_column=Column(Integer(), nullable=False, server_default="0"))  # lines refused (reason on each)
    idempotency_key: str = Field(max_length=200, unique=True)
    defaults: str = Field(default="{}", sa_column=Column(Text(), nullable=False))


class CreatePoliciesJob(IntakeModel, table=True):
    """A Create Policies request run in the background (a large statement): its status and the
    session it made. The policies, clients and session are still written by one transaction;
    ``done`` is final-state only (live progress is the worker's, in memory)."""

    __tablename__ = "create_policies_jobs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    statement_id: str = Field(max_length=36, index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    request: str = Field(sa_column=Column(Text(), nullable=False))  # the CreatePoliciesRequest as JSON
    status: str = Field(default="queued", max_length=20, index=True)  # queued | running | done | failed
    total: int = 0
    done: int = 0
    attempts: int = 0
    session_id: str | None = Field(default=None, max_length=36)
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
