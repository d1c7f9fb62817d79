"""Background jobs (stages) of a reconciliation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from invoicing.models.base import InvoicingModel, _ts


class Job(InvoicingModel, table=True):
    """A background job on a large reconciliation with its progress; kind: create-invoices, post, pay,
    create-pay-all or create-pay-post (see stages.jobs.KINDS)."""

    __tablename__ = "job"

    id: str = Field(primary_key=True, max_length=36)
    reconciliation_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=30)
    status: str = Field(default="queued", max_length=20)  # queued | running | done | failed
    total: int = 0
    done: int = 0
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
