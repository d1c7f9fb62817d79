"""intake's tables. Its own metadata (a SQLModel registry of its own), so its migrations see
nothing of another service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money, Rate, UTCDateTime
from agency_common.outbox import messaging_tables
from agency_common.timeutil import utcnow
from sqlalchemy import BigInteger, Column, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class IntakeModel(SQLModel, registry=registry()):
    pass


metadata = IntakeModel.metadata
messaging = messaging_tables(metadata)


class Policy(IntakeModel, table=True):
    """A policy of the book of business. intake is its system of record."""

    __tablename__ = "policies"
    __table_args__ = (
        UniqueConstraint("carrier", "policy_number", name="uq_policy_carrier_number"),
        # covering indexes for the Individual Advanced Search's policy filters
        Index("ix_policies_lob_effective", "line_of_business", "effective_date", "client_id"),
        Index("ix_policies_expiration", "expiration_date", "client_id"),
    )

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    version: int = 1
    carrier: str = Field(max_length=200, index=True)
    policy_number: str = Field(max_length=100)
    client_id: str | None = Field(default=None, max_length=36, index=True)
    client_name: str = Field(max_length=300)
    bill_to_name: str | None = Field(default=None, max_length=300)
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=100)
    commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
    line_of_business: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=50)
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    # the current term's (the latest of its terms, see PolicyTerm): dates above, totals here
    annualized_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    estimated_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    session_id: str | None = Field(default=None, max_length=36, index=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _uuid() -> str:
    return str(uuid.uuid4())


class Client(IntakeModel, table=True):
    """A client of the book of business, found by its normalised name when policies are created."""

    __tablename__ = "clients"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    name: str = Field(max_length=300)
    normalised_name: str = Field(max_length=300, unique=True)
    # person | organisation (intake.domain.insured); None: created before clients were classified
    kind: str | None = Field(default=None, max_length=20)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PolicyTerm(IntakeModel, table=True):
    """One term of a policy (effective → expiration) with its own totals, as posted invoices left
    them (intake.domain.premium). Every policy has at least one; the latest is its current term."""

    __tablename__ = "policy_terms"

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    policy_id: str = Field(max_length=36, index=True)
    effective_date: date | None = None
    expiration_date: date | None = None
    annualized_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    estimated_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    billed_agency_commission: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))


class Carrier(IntakeModel, table=True):
    """A carrier of the registry. Its canonical ``name`` is what policies, statements and profiles carry;
    ``key`` (the name without case and extra spaces) and the aliases' keys are how a typed name finds it."""

    __tablename__ = "carriers"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    version: int = 1
    name: str = Field(max_length=200, unique=True)
    key: str = Field(max_length=200, unique=True)
    naic_code: str | None = Field(default=None, max_length=5, unique=True)
    subordinates: str = Field(default="[]", sa_column=Column(Text(), nullable=False))  # JSON list of names
    addresses: str = Field(default="[]", sa_column=Column(Text(), nullable=False))  # JSON list of addresses
    active: bool = True
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CarrierAlias(IntakeModel, table=True):
    """Another spelling of a carrier's name (a feed's, an old file's); its key is unique across the
    registry, names and aliases alike, so a typed name finds at most one carrier."""

    __tablename__ = "carrier_aliases"

    key: str = Field(primary_key=True, max_length=200)
    alias: str = Field(max_length=200)
    carrier_id: str = Field(max_length=36, foreign_key="carriers.id", index=True)


class CarrierProfile(IntakeModel, table=True):
    """A carrier's column mapping, transaction-code → bill-type mapping and policy-number prefixes
    (JSON text), and its default commission rate."""

    __tablename__ = "carrier_profiles"

    carrier: str = Field(primary_key=True, max_length=200)
    columns: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    bill_types: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    prefixes: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    sheet: str | None = Field(default=None, max_length=100)
    # the agency's commission rate for this carrier's policies that bring none of their own
    default_commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Statement(IntakeModel, table=True):
    """One imported carrier statement (a file, or a feed's statement)."""

    __tablename__ = "statements"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    carrier: str = Field(max_length=200, index=True)
    source: str = Field(max_length=20)  # upload | feed
    file_name: str = Field(max_length=300)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    size_bytes: int | None = None
    stored_path: str | None = Field(default=None, max_length=500)
    sheet: str | None = Field(default=None, max_length=100)
    feed_statement_id: str | None = Field(default=None, max_length=200, unique=True)
    header: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # JSON list of header cells
    statement_date: date | None = None
    duplicate_of: str | None = Field(default=None, max_length=36)
    status: str = Field(default="queued", max_length=20, index=True)
    # queued | processing | receiving | imported | failed | published
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    detected: str | None = Field(default=None, max_length=200)  # format, encoding, delimiter, header line
    rows_processed: int = 0
    total: int = 0
    valid: int = 0
    invalid: int = 0
    blank: int = 0
    matched: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    excluded: int = 0
    imported_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    published_by: str | None = Field(default=None, max_length=100)
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class StatementLineRow(IntakeModel, table=True):
    """Every non-blank row of a statement, valid or not, with its line number, raw values, reasons
    and match."""

    __tablename__ = "statement_lines"
    # one index: every query names the statement (migration 0005 says why there is no second)
    __table_args__ = (UniqueConstraint("statement_id", "line_no", name="uq_statement_line_no"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    statement_id: str = Field(max_length=36)
    line_no: int
    valid: bool
    errors: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    raw: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # JSON list of cells
    policy_number: str | None = Field(default=None, max_length=100)
    normalised_number: str | None = Field(default=None, max_length=100)
    insured_name: str | None = Field(default=None, max_length=300)
    transaction_type: str | None = Field(default=None, max_length=50)
    bill_type: str | None = Field(default=None, max_length=20)
    effective_date: date | None = None
    expiration_date: date | None = None
    line_of_business: str | None = Field(default=None, max_length=100)
    premium: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    commission_rate: Decimal | None = Field(default=None, sa_column=Column(Rate(), nullable=True))
    commission_amount: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    producer_code: str | None = Field(default=None, max_length=100)
    match_status: str | None = Field(default=None, max_length=20)  # matched | unmatched | ambiguous
    match_reason: str | None = Field(default=None, max_length=500)
    policy_id: str | None = Field(default=None, max_length=36)
    excluded: bool = False


class PolicySession(IntakeModel, table=True):
    """One Create-Policies action (seed 000)."""

    __tablename__ = "policy_sessions"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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


class PolicyUpdateAudit(IntakeModel, table=True):
    """One Update Policies (by Carrier) action: who, when, which filter, what changed, how many."""

    __tablename__ = "policy_update_audits"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    carrier: str = Field(max_length=200, index=True)
    filters: str = Field(sa_column=Column(Text(), nullable=False))
    changes: str = Field(sa_column=Column(Text(), nullable=False))
    count: int
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Individual(IntakeModel, table=True):
    """A person of the book of business (seed 001). SSN, DOB, Medicare id and driver's license
    number are stored encrypted (``*_enc``, Fernet tokens); never in clear."""

    __tablename__ = "individuals"
    __table_args__ = (Index("ix_individuals_client_last", "client_id", "last_name", "id"),)

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    criteria: str = Field(sa_column=Column(Text(), nullable=False))
    owner: str = Field(max_length=100, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SalesRecordJob(IntakeModel, table=True):
    """A mass creation of sales records: who ran it, when, the criteria and the counts."""

    __tablename__ = "sales_record_jobs"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
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
