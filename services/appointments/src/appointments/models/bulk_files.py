"""Uploaded bulk files (onboarding, terminations) row by row, and the answered bulk-appoint calls
(by Idempotency-Key; also the background chunks' claims)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from appointments.models.base import AppointmentsModel, new_id, ts


class BulkImport(AppointmentsModel, table=True):
    __tablename__ = "bulk_imports"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(max_length=20)  # producers | terminations
    filename: str = Field(max_length=300)
    sha256: str = Field(max_length=64, index=True)
    # parsed | processed (producers); terminations: parsed | awaiting review | submitted | awaiting manual tasks | completed
    status: str = Field(default="parsed", max_length=30)
    total_rows: int = 0
    valid_rows: int = 0
    invalid_rows: int = 0
    blank_rows: int = 0
    uploaded_by: str = Field(max_length=100)
    uploaded_at: datetime = ts()
    processed_by: str | None = Field(default=None, max_length=100)
    processed_at: datetime | None = ts(nullable=True)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class BulkImportRow(AppointmentsModel, table=True):
    __tablename__ = "bulk_import_rows"
    __table_args__ = (Index("ix_bulk_import_rows_import_line", "import_id", "line"),)  # a result page by line

    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(foreign_key="bulk_imports.id", index=True, max_length=36)
    line: int
    valid: bool
    errors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    display: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # PII masked
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # PII encrypted
    outcome: str | None = Field(default=None, max_length=300)  # onboarding: created / updated: ... / unchanged


class BulkAppointCall(AppointmentsModel, table=True):
    """A bulk-appoint call made with an Idempotency-Key: repeating it returns the first answer."""

    __tablename__ = "bulk_appoint_calls"

    idempotency_key: str = Field(primary_key=True, max_length=100)
    created_by: str = Field(max_length=100)
    created_at: datetime = ts()
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
