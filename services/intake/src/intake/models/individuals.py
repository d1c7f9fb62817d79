"""Individuals (seed 001): people, their audit trail, saved searches, sales records and imports."""

from __future__ import annotations

from datetime import date, datetime

from agency_common.db.types import UTCDateTime
from agency_common.timeutil import utcnow
from sqlalchemy import Column, Index, Integer, String, Text
from sqlmodel import Field

from intake.models.base import IntakeModel, new_id


class Individual(IntakeModel, table=True):
    """A person of the book of business (seed 001). SSN, DOB, Medicare id and driver's license
    number are stored encrypted (``*_enc``, Fernet tokens); never in clear."""

    __tablename__ = "individuals"
    __table_args__ = (Index("ix_individuals_client_last", "client_id", "last_name", "id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    external_id: str | None = Field(default=None, max_length=200, unique=True)  # the CRM's id
    version: int = 1
    client_id: str | None = Field(default=None, max_length=36, unique=True)  # the client of its policies
    first_name: str | None = Field(default=None, max_length=100, index=True)
    middle_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100, index=True)
    nickname: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)
    servicing_agent: str | None = Field(default=None, max_length=100, index=True)
    servicing_agent_user: str | None = Field(default=None, max_length=100)  # the agent's linked user
    record_status: str | None = Field(default=None, max_length=50, index=True)
    primary_email: str | None = Field(default=None, max_length=200)
    secondary_email: str | None = Field(default=None, max_length=200)
    cell_phone: str | None = Field(default=None, max_length=50)
    home_phone: str | None = Field(default=None, max_length=50)
    address_type: str | None = Field(default=None, max_length=50)
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    county: str | None = Field(default=None, max_length=100)
    zip_code: str | None = Field(default=None, max_length=20, index=True)
    state: str | None = Field(default=None, max_length=20, index=True)
    gender: str | None = Field(default=None, max_length=20)
    dob_enc: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    lead_source: str | None = Field(default=None, max_length=100)
    medicare_id_enc: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    medicare_part_a: date | None = None
    medicare_part_b: date | None = None
    ssn_enc: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    drivers_license_enc: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    smoker_status: str | None = Field(default=None, max_length=20)
    custom_fields: str = Field(default="[]", sa_column=Column(Text(), nullable=False))  # [{name, type, value}]
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SalesRecord(IntakeModel, table=True):
    """A sales record linked to one individual (at most one per individual)."""

    __tablename__ = "sales_records"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    individual_id: str = Field(max_length=36, unique=True)
    sales_record_type: str = Field(max_length=100)
    assigned_user: str | None = Field(default=None, max_length=100)
    fields: str = Field(sa_column=Column(Text(), nullable=False))  # carried-over fields (PII still encrypted)
    custom_fields: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    job_id: str | None = Field(default=None, max_length=36, index=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    converted_by: str | None = Field(default=None, max_length=100)
    converted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class SavedSearch(IntakeModel, table=True):
    __tablename__ = "saved_searches"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    criteria: str = Field(sa_column=Column(Text(), nullable=False))
    owner: str = Field(max_length=100, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SalesRecordJob(IntakeModel, table=True):
    """A mass creation of sales records: who ran it, when, the criteria and the counts."""

    __tablename__ = "sales_record_jobs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    idempotency_key: str = Field(max_length=200, unique=True)
    saved_search_id: str | None = Field(default=None, max_length=36, index=True)
    criteria: str = Field(sa_column=Column(Text(), nullable=False))
    sales_record_type: str = Field(max_length=100)
    status: str = Field(default="queued", max_length=20, index=True)  # queued | running | done | failed
    total: int = 0
    created: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class IndividualAudit(IntakeModel, table=True):
    """Changes to individuals that need a trail (convert to individual)."""

    __tablename__ = "individual_audits"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    individual_id: str = Field(max_length=36, index=True)
    action: str = Field(max_length=50)
    details: str = Field(sa_column=Column(Text(), nullable=False))
    actor: str = Field(max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class IndividualImport(IntakeModel, table=True):
    """An import of individuals from a file run in the background (above the threshold): its stored
    file until it ends, its progress and counts. ``line_done`` is the last line of the file whose
    outcome is committed: a resumed job reads on from there."""

    __tablename__ = "individual_imports"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    file_name: str = Field(max_length=300)
    stored_path: str | None = Field(default=None, max_length=500)  # removed when the job ends
    status: str = Field(default="queued", max_length=20, index=True)  # queued | running | done | failed
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    header: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # JSON list of header cells
    pii_columns: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # JSON list of indexes
    total: int = 0  # data rows of the file (blank ones included), counted when it was uploaded
    rows_done: int = 0
    line_done: int = 0
    created: int = 0
    updated: int = 0
    invalid: int = 0
    blank: int = 0
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class IndividualImportRow(IntakeModel, table=True):
    """The outcome of one non-blank row of a background import (created | updated | invalid). An
    invalid row keeps its cells to be offered back, encrypted (they may hold SSN or DOB)."""

    __tablename__ = "individual_import_rows"

    import_id: str = Field(sa_column=Column(String(36), primary_key=True))
    line: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    outcome: str = Field(max_length=20)
    individual_id: str | None = Field(default=None, max_length=36)
    name: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    reasons: str = Field(default="[]", sa_column=Column(Text(), nullable=False))  # JSON list; never cell values
    cells_enc: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # Fernet token of JSON cells
