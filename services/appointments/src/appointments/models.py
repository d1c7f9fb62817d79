"""appointments' tables (its own metadata).

Reference data that states and carriers change (company state settings, gateway business rules,
termination reasons, fees) is effective-dated: every row has an ``effective_date`` and a
``source``, and a change is a new row; the row in force on a day is the latest one not after it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agency_common.db.types import Money, UTCDateTime
from agency_common.outbox import messaging_tables
from agency_common.timeutil import utcnow
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from appointments.domain import vocabulary as v


class AppointmentsModel(SQLModel, registry=registry()):
    pass


metadata = AppointmentsModel.metadata
messaging = messaging_tables(metadata)


def new_id() -> str:
    return str(uuid.uuid4())


def _ts(nullable: bool = False) -> Any:
    return Field(default_factory=utcnow if not nullable else None,
                 sa_column=Column(UTCDateTime(), nullable=nullable))


# -- reference data ------------------------------------------------------------------------------------
class Agency(AppointmentsModel, table=True):
    __tablename__ = "agencies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    npn: str = Field(max_length=10, unique=True)
    name: str = Field(max_length=200)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class Company(AppointmentsModel, table=True):
    __tablename__ = "companies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    fein: str | None = Field(default=None, max_length=9)
    loa_categories: str = Field(default="", max_length=500)  # ';'-separated LOA categories it appoints for
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class CompanyCocode(AppointmentsModel, table=True):
    __tablename__ = "company_cocodes"

    cocode: str = Field(primary_key=True, max_length=10)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=36)


class CompanyStateSetting(AppointmentsModel, table=True):
    __tablename__ = "company_state_settings"

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=36)
    state: str = Field(max_length=2)
    appoints: bool = True  # a row with False removes the setting from its effective date
    jit: bool = False
    company_license_id: str | None = Field(default=None, max_length=50)
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class BusinessRule(AppointmentsModel, table=True):
    """Gateway business rule: in a state, a line of authority belongs to an LOA category and is
    active (or not) for appointments."""

    __tablename__ = "gateway_business_rules"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    loa_category: str = Field(max_length=100)
    line_of_authority: str = Field(max_length=150)
    active: bool = True
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class TerminationReason(AppointmentsModel, table=True):
    __tablename__ = "termination_reasons"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    code: str = Field(max_length=50)
    description: str = Field(max_length=200)
    accepted: bool = True
    is_default: bool = False
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class StateFee(AppointmentsModel, table=True):
    __tablename__ = "state_fees"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    appointment_fee: Decimal = Field(sa_column=Column(Money(), nullable=False))
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class TerminationFilingRule(AppointmentsModel, table=True):
    """How a state takes for-cause terminations: electronically through the Gateway, or not (Texas:
    written to the department), in which case such a row becomes a manual task, not a transaction."""

    __tablename__ = "termination_filing_rules"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    for_cause_electronic: bool = True
    instructions: str | None = Field(default=None, max_length=500)
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


class ServiceSetting(AppointmentsModel, table=True):
    __tablename__ = "service_settings"

    name: str = Field(primary_key=True, max_length=100)
    value: str = Field(max_length=500)
    updated_by: str = Field(default="system", max_length=100)
    updated_at: datetime = _ts()


class Portal(AppointmentsModel, table=True):
    __tablename__ = "portals"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    seats: int = 0
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = _ts()


# -- producers and licenses ----------------------------------------------------------------------------
class Producer(AppointmentsModel, table=True):
    __tablename__ = "producers"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    npn: str = Field(max_length=10, unique=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    ssn_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    agency_id: str | None = Field(default=None, foreign_key="agencies.id", max_length=36)
    sync_status: str = Field(default="pending", max_length=20)  # pending | synced | not_found
    active: bool = False  # the NPN is active at NIPR (known after the first sync)
    sync_requested_at: datetime | None = _ts(nullable=True)
    synced_at: datetime | None = _ts(nullable=True)
    import_id: str | None = Field(default=None, max_length=36)
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = _ts()


class ProducerAssignment(AppointmentsModel, table=True):
    __tablename__ = "producer_assignments"
    __table_args__ = (UniqueConstraint("producer_id", "loa_category", "state", "cocode", name="uq_assignment"),)

    id: int | None = Field(default=None, primary_key=True)
    producer_id: str = Field(foreign_key="producers.id", index=True, max_length=36)
    loa_category: str = Field(max_length=100)
    state: str = Field(max_length=2)
    cocode: str = Field(default="", max_length=10)  # "" = any CoCode
    scorecard_type: str | None = Field(default=None, max_length=50)
    agent_type: str | None = Field(default=None, max_length=50)
    created_at: datetime = _ts()


class License(AppointmentsModel, table=True):
    __tablename__ = "licenses"

    id: int | None = Field(default=None, primary_key=True)
    producer_id: str = Field(foreign_key="producers.id", index=True, max_length=36)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    license_number: str = Field(max_length=50)
    license_class: str = Field(max_length=100)
    lines_of_authority: str = Field(max_length=1000)  # ';'-separated
    active: bool
    resident: bool
    effective_date: date | None = None
    expiration_date: date | None = None
    fetched_at: datetime = _ts()


# -- transactions, batches, appointments ---------------------------------------------------------------
class TransactionBatch(AppointmentsModel, table=True):
    """Transactions for one CoCode, submitted together to the NIPR gateway."""

    __tablename__ = "transaction_batches"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    cocode: str = Field(max_length=10, index=True)
    kind: str = Field(max_length=20)  # appointment | termination
    status: str = Field(default="draft", max_length=20)  # draft | submitted | completed | closed
    source: str | None = Field(default=None, max_length=50)  # api | file | dashboard | termination-import
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    submitted_by: str | None = Field(default=None, max_length=100)
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_reason: str | None = Field(default=None, max_length=200)  # why it closed by itself
    import_id: str | None = Field(default=None, max_length=36, index=True)  # the termination file it came from


class AppointmentTransaction(AppointmentsModel, table=True):
    __tablename__ = "appointment_transactions"
    __table_args__ = (
        # At most one identical transaction pending at NIPR: no fee is paid twice.
        Index("uq_transaction_pending", "identity_key", unique=True,
              sqlite_where=text("status = 'Submitted'"), postgresql_where=text("status = 'Submitted'")),
        Index("ix_transaction_identity", "npn", "state", "cocode"),
        Index("ix_transaction_batch_status", "batch_id", "status"),  # "anything still pending in this batch?"
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    batch_id: str = Field(foreign_key="transaction_batches.id", index=True, max_length=36)
    kind: str = Field(max_length=20)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    cocode: str = Field(max_length=10)
    status: str = Field(default=v.READY, max_length=30)
    nipr_reason: str | None = Field(default=None, max_length=500)
    nipr_reference: str | None = Field(default=None, max_length=100)
    idempotency_key: str = Field(default_factory=new_id, unique=True, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    loa_category: str | None = Field(default=None, max_length=100)
    eligibility_reason: str | None = Field(default=None, max_length=300)
    billable: bool = True
    jit: bool = False
    fee: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    license_number: str | None = Field(default=None, max_length=50)
    # kind|npn|state|line (normalised)|cocode|license: what makes two transactions "identical"
    identity_key: str | None = Field(default=None, max_length=400)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = _ts(nullable=True)
    submitted_at: datetime | None = _ts(nullable=True)
    answered_at: datetime | None = _ts(nullable=True)
    for_cause: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})  # terminations
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = _ts(nullable=True)
    close_reason: str | None = Field(default=None, max_length=500)


class CarrierAppointment(AppointmentsModel, table=True):
    """An appointment as NIPR confirmed it (Appointed), or ended (Terminated)."""

    __tablename__ = "carrier_appointments"
    __table_args__ = (UniqueConstraint("npn", "state", "line_of_authority", "cocode", name="uq_carrier_appointment"),)

    id: int | None = Field(default=None, primary_key=True)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    loa_category: str | None = Field(default=None, max_length=100)
    cocode: str = Field(max_length=10, index=True)
    status: str = Field(max_length=20)  # Appointed | Terminated
    appointed_at: datetime | None = _ts(nullable=True)
    terminated_at: datetime | None = _ts(nullable=True)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    nipr_reference: str | None = Field(default=None, max_length=100)
    last_transaction_id: str | None = Field(default=None, max_length=36)


# -- bulk files ----------------------------------------------------------------------------------------
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
    uploaded_at: datetime = _ts()
    processed_by: str | None = Field(default=None, max_length=100)
    processed_at: datetime | None = _ts(nullable=True)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class BulkImportRow(AppointmentsModel, table=True):
    __tablename__ = "bulk_import_rows"

    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(foreign_key="bulk_imports.id", index=True, max_length=36)
    line: int
    valid: bool
    errors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    display: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # PII masked
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # PII encrypted


class BulkAppointCall(AppointmentsModel, table=True):
    """A bulk-appoint call made with an Idempotency-Key: repeating it returns the first answer."""

    __tablename__ = "bulk_appoint_calls"

    idempotency_key: str = Field(primary_key=True, max_length=100)
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# -- portals -------------------------------------------------------------------------------------------
class PortalUser(AppointmentsModel, table=True):
    __tablename__ = "portal_users"
    __table_args__ = (UniqueConstraint("producer_id", "portal_id", name="uq_portal_user"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    producer_id: str = Field(foreign_key="producers.id", index=True, max_length=36)
    portal_id: str = Field(foreign_key="portals.id", index=True, max_length=36)
    email: str = Field(max_length=254)
    invites_sent: int = 1
    invited_by: str = Field(max_length=100)
    invited_at: datetime = _ts()


# -- background bulk appoint -----------------------------------------------------------------------------
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
    created_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)


class AppointJobItem(AppointmentsModel, table=True):
    """One request of a background bulk appoint, and its result once its chunk is done."""

    __tablename__ = "appointment_job_items"

    job_id: str = Field(foreign_key="appointment_jobs.id", primary_key=True, max_length=36)
    seq: int = Field(primary_key=True)
    line: int | None = None  # the file's line
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


# -- manual tasks --------------------------------------------------------------------------------------
class ManualTask(AppointmentsModel, table=True):
    """Work the Gateway cannot do, shown to the operator: a for-cause termination in a state that
    refuses it electronically (filed in writing with the department instead)."""

    __tablename__ = "manual_tasks"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(default="for-cause termination", max_length=50)
    status: str = Field(default="open", max_length=20, index=True)  # open | done
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    cocode: str = Field(max_length=10)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    instructions: str = Field(max_length=500)
    import_id: str | None = Field(default=None, max_length=36, index=True)
    line: int | None = None
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()
    done_by: str | None = Field(default=None, max_length=100)
    done_at: datetime | None = _ts(nullable=True)
    note: str | None = Field(default=None, max_length=1000)
