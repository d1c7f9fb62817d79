"""Events intake owns: the book of business (policies), statements, sessions, sales records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agency_common.contracts import topics
from agency_common.contracts.envelope import BULK_CHUNK, EventPayload
from agency_common.contracts.registry import event


class PolicySnapshot(BaseModel):
    """A policy as intake knows it; read models elsewhere are built from these snapshots."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    policy_id: str
    version: int  # increases with every change: read models ignore older snapshots
    carrier: str
    policy_number: str
    client_id: str | None = None
    client_name: str
    bill_to_name: str | None = None
    line_of_business: str | None = None
    business_type: str | None = None
    mode: str | None = None
    status: str | None = None
    in_history: bool = False
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = None
    annualized_premium: Decimal | None = None
    billed_premium: Decimal | None = None
    commission_rate_type: Literal["percent", "flat"] | None = None
    commission_rate: Decimal | None = None
    estimated_agency_commission: Decimal | None = None
    billed_agency_commission: Decimal | None = None
    branch: str | None = None
    department: str | None = None
    unit: str | None = None
    servicing_agent: str | None = None
    session_id: str | None = None
    updated_at: datetime


def carrier_key(name: str) -> str:
    """Part of the carrier contract: a typed name means the carrier whose name or alias has the same key
    (case and extra spaces ignored: "  acme   MUTUAL " means "Acme Mutual")."""
    return " ".join(name.split()).casefold()


class CarrierSnapshot(BaseModel):
    """A carrier of the registry (intake owns it): its canonical name is what policies and statements
    carry; the other services pick carriers from it and match typed names through its aliases."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    carrier_id: str
    version: int
    name: str
    aliases: list[str] = []
    naic_code: str | None = None  # the NAIC company code (5 digits), where known
    subordinates: list[str] = []  # subordinate (writing) companies' names
    addresses: list[str] = []  # one postal address per entry, lines separated by newlines
    active: bool = True
    updated_at: datetime


@event
class CarrierRegistered(EventPayload):
    topic = topics.INTAKE_CARRIERS
    event_type = "intake.carrier.registered"

    carrier: CarrierSnapshot

    def key(self) -> str:
        return self.carrier.carrier_id


@event
class CarrierUpdated(EventPayload):
    topic = topics.INTAKE_CARRIERS
    event_type = "intake.carrier.updated"

    carrier: CarrierSnapshot
    changed_fields: list[str] = []

    def key(self) -> str:
        return self.carrier.carrier_id


@event
class PolicyCreated(EventPayload):
    topic = topics.INTAKE_POLICIES
    event_type = "intake.policy.created"

    policy: PolicySnapshot

    def key(self) -> str:
        return self.policy.policy_id


@event
class PolicyUpdated(EventPayload):
    topic = topics.INTAKE_POLICIES
    event_type = "intake.policy.updated"

    policy: PolicySnapshot
    changed_fields: list[str] = []

    def key(self) -> str:
        return self.policy.policy_id


class PolicyChange(BaseModel):
    """One policy of a ``PoliciesUpdated`` chunk: its new snapshot and what changed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    policy: PolicySnapshot
    changed_fields: list[str] = []


@event
class PoliciesCreated(EventPayload):
    """A chunk of policies created by one bulk action (Create Policies): one event per chunk instead of
    one ``PolicyCreated`` per policy. Keyed by the first policy: snapshots carry their version, and
    every read model keeps the newest, so a chunk and a later single event may travel apart."""

    topic = topics.INTAKE_POLICIES
    event_type = "intake.policies.created"

    policies: list[PolicySnapshot] = Field(min_length=1, max_length=BULK_CHUNK)

    def key(self) -> str:
        return self.policies[0].policy_id

    def entity_count(self) -> int:
        return len(self.policies)


@event
class PoliciesUpdated(EventPayload):
    """A chunk of policies changed by one bulk action (postings applied, bulk edits); single edits keep
    ``PolicyUpdated``. Keyed like ``PoliciesCreated``."""

    topic = topics.INTAKE_POLICIES
    event_type = "intake.policies.updated"

    changes: list[PolicyChange] = Field(min_length=1, max_length=BULK_CHUNK)

    def key(self) -> str:
        return self.changes[0].policy.policy_id

    def entity_count(self) -> int:
        return len(self.changes)


class StatementLine(BaseModel):
    """One valid statement line as handed over to invoicing."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    line_id: str
    line_no: int  # the row number in the original file
    policy_id: str | None = None  # the matched policy (None when published with unmatched lines excluded)
    policy_number: str
    insured_name: str | None = None
    transaction_type: str | None = None  # the carrier's code, e.g. NBS, RWL, PCH, XLC, AUD
    bill_type: Literal["audit", "cancellation", "endorsement", "installment", "term_policy"] | None = None
    effective_date: date | None = None
    expiration_date: date | None = None
    line_of_business: str | None = None
    premium: Decimal | None = None
    commission_rate: Decimal | None = None
    commission_amount: Decimal | None = None
    producer_code: str | None = None


@event
class StatementImported(EventPayload):
    """A carrier statement was read and validated (counts for the operations views)."""

    topic = topics.INTAKE_STATEMENTS
    event_type = "intake.statement.imported"

    statement_id: str
    carrier: str
    file_name: str
    imported_by: str
    imported_at: datetime
    total_rows: int
    valid_rows: int
    invalid_rows: int
    blank_rows: int

    def key(self) -> str:
        return self.statement_id


@event
class StatementPublished(EventPayload):
    """The header of a statement handed over to invoicing; its lines follow in chunks."""

    topic = topics.INTAKE_STATEMENTS
    event_type = "intake.statement.published"

    statement_id: str
    carrier: str
    statement_date: date | None = None
    file_name: str
    line_count: int
    chunk_count: int
    premium_total: Decimal
    commission_total: Decimal
    excluded_unmatched: int = 0

    def key(self) -> str:
        return self.statement_id


@event
class StatementLinesPublished(EventPayload):
    """One chunk of a published statement's lines (keyed by statement: chunks stay in order)."""

    topic = topics.INTAKE_STATEMENTS
    event_type = "intake.statement.lines-published"

    statement_id: str
    chunk_no: int  # 1-based
    chunk_count: int
    lines: list[StatementLine]

    def key(self) -> str:
        return self.statement_id


@event
class PolicySessionCreated(EventPayload):
    """A Create-Policies session committed (seed 000)."""

    topic = topics.INTAKE_POLICY_SESSIONS
    event_type = "intake.policy-session.created"

    session_id: str
    statement_id: str | None = None
    carrier: str
    created_by: str
    created_at: datetime
    count: int

    def key(self) -> str:
        return self.session_id


@event
class SalesRecordCreated(EventPayload):
    """A sales record was created; it starts the sales workflows (seed 001)."""

    topic = topics.INTAKE_SALES_RECORDS
    event_type = "intake.sales-record.created"

    sales_record_id: str
    individual_id: str
    sales_record_type: str
    assigned_user: str | None = None
    job_id: str | None = None
    created_by: str
    created_at: datetime

    def key(self) -> str:
        return self.individual_id


class NewSalesRecord(BaseModel):
    """One sales record of a ``SalesRecordsCreated`` chunk."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sales_record_id: str
    individual_id: str
    sales_record_type: str
    assigned_user: str | None = None


@event
class SalesRecordsCreated(EventPayload):
    """A chunk of sales records created by one mass-creation job (seed 001): one event per chunk."""

    topic = topics.INTAKE_SALES_RECORDS
    event_type = "intake.sales-records.created"

    job_id: str | None = None
    created_by: str
    created_at: datetime
    records: list[NewSalesRecord] = Field(min_length=1, max_length=BULK_CHUNK)

    def key(self) -> str:
        return self.job_id or self.records[0].individual_id

    def entity_count(self) -> int:
        return len(self.records)
