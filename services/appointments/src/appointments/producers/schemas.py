"""Producers' JSON: a producer, a license sync asked for, an onboarding file and its processing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from appointments.responses import Out


class SyncRequested(Out):
    npn: str
    sync: str


class ImportProcessed(Out):
    """``onboarding.process_producer_import``'s result, with the import."""

    import_id: str
    producers_created: int
    producers_existing: int
    producers_updated: int
    assignments_added: int
    license_syncs_requested: int
    invalid_rows_skipped: int


class ProducerOut(Out):
    """A producer as stored (``queries.producer_view``): the SSN masked unless the caller may reveal
    it, timestamps as text."""

    id: str
    npn: str
    first_name: str
    last_name: str
    email: str | None
    agency_id: str | None
    phone: str | None
    business_address: str | None
    mailing_address: str | None
    agent_type: str | None
    sync_status: str
    active: bool
    sync_requested_at: str | None
    synced_at: str | None
    import_id: str | None
    created_by: str
    created_at: str
    updated_by: str | None
    updated_at: str | None
    ssn: str | None


class ProducerPage(Out):
    """One page of producers (``GET /api/producers``) and how many there are in all."""

    total: int
    offset: int
    limit: int
    sort: str
    items: list[ProducerOut]


class LicenseOut(Out):
    id: int | None
    npn: str
    state: str
    license_number: str
    license_class: str
    lines_of_authority: list[str]
    active: bool
    resident: bool
    effective_date: str | None
    expiration_date: str | None
    fetched_at: str


class AssignmentOut(Out):
    id: int | None
    producer_id: str
    loa_category: str
    state: str
    cocode: str
    scorecard_type: str | None
    agent_type: str | None
    created_at: str


class ProducerDetail(ProducerOut):
    """One producer with licenses and assignments (``queries.producer_detail``)."""

    licenses: list[LicenseOut]
    assignments: list[AssignmentOut]


class ImportRow(Out):
    """One row of an uploaded file: its line, whether it is valid, why not, the values as shown (PII masked)."""

    line: int
    valid: bool
    errors: list[str]
    values: dict[str, Any]
    outcome: str | None = None  # onboarding, once processed: created / updated: <fields> / unchanged


class ImportOut(Out):
    """An uploaded bulk file and its rows (``bulk_files.import_view``), timestamps as text."""

    id: str
    kind: str
    filename: str
    sha256: str
    status: str
    total_rows: int
    valid_rows: int
    invalid_rows: int
    blank_rows: int
    uploaded_by: str
    uploaded_at: str
    processed_by: str | None
    processed_at: str | None
    result: dict[str, Any] | None
    rows: list[ImportRow]


class ProducerEdit(BaseModel):
    """The fields to change (``PATCH /api/producers/{npn}``); a field left out stays as it is, a blank
    or null one is cleared (names are required). ``agency_npn`` names a known agency."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    business_address: str | None = None
    mailing_address: str | None = None
    agency_npn: str | None = None
    agent_type: str | None = None


class ProducerEdited(Out):
    npn: str
    changed: list[str]
    producer: ProducerDetail


class FieldChange(Out):
    field: str
    label: str
    before: Any
    after: Any


class ProducerChange(Out):
    """One edit of a producer (``editing.history``): who, when, from where (``source``: ``{"kind": "edit"}``
    or ``{"kind": "onboarding", "import_id", "line"}``), each field before and after."""

    id: int
    at: str
    by: str
    source: dict[str, Any]
    changes: list[FieldChange]


class ProducerHistory(Out):
    total: int
    offset: int
    limit: int
    items: list[ProducerChange]


class ImportRowPage(Out):
    """One page of an import's rows by line (``GET /api/producer-imports/{id}/rows``) and how many in all."""

    total: int
    offset: int
    limit: int
    sort: str
    items: list[ImportRow]
