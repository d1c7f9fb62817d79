"""What the individuals routes take and answer: individuals (PII masked unless revealed), search
criteria, saved searches, sales records and their jobs."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from agency_common.pii import PiiCipher, mask
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator, model_validator

from intake.individuals.domain.fields import (
    CARRIED_FIELDS,
    PII_FIELDS,
    STANDARD_FIELDS,
    custom_type,
    custom_value,
    storage_key,
    text_problem,
)
from intake.individuals.domain.searches import criteria_words
from intake.individuals.pii import clear_values
from intake.models import Individual, SalesRecord, SalesRecordJob, SavedSearch
from intake.responses import Out


def _no_control_characters(value: Any) -> Any:
    if isinstance(value, str) and (problem := text_problem(value)):
        raise ValueError(problem)
    return value


class CustomField(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    type: Literal["text", "date", "dropdown", "number", "currency", "percent", "checkbox", "checkbox_list"]
    value: Any = None

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        return _no_control_characters(v)  # type: ignore[no-any-return]

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> str:
        return custom_type(v)

    @model_validator(mode="after")
    def _value(self) -> CustomField:
        self.value = custom_value(self.type, self.value)
        for item in self.value if isinstance(self.value, list) else [self.value]:
            _no_control_characters(item)
        return self


class IndividualIn(BaseModel):
    first_name: str | None = Field(default=None, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    nickname: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)
    servicing_agent: str | None = Field(default=None, max_length=100)
    servicing_agent_user: str | None = Field(default=None, max_length=100)
    record_status: str | None = Field(default=None, max_length=50)
    primary_email: str | None = Field(default=None, max_length=200)
    secondary_email: str | None = Field(default=None, max_length=200)
    cell_phone: str | None = Field(default=None, max_length=50)
    home_phone: str | None = Field(default=None, max_length=50)
    address_type: str | None = Field(default=None, max_length=50)
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    county: str | None = Field(default=None, max_length=100)
    zip_code: str | None = Field(default=None, max_length=20)
    state: str | None = Field(default=None, max_length=20)
    gender: str | None = Field(default=None, max_length=20)
    dob: date | None = None
    lead_source: str | None = Field(default=None, max_length=100)
    medicare_id: str | None = Field(default=None, max_length=50)
    medicare_part_a: date | None = None
    medicare_part_b: date | None = None
    ssn: str | None = Field(default=None, max_length=20)
    drivers_license: str | None = Field(default=None, max_length=50)
    smoker_status: str | None = Field(default=None, max_length=20)
    custom_fields: list[CustomField] = []

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return _no_control_characters(v)


class SearchCriteria(BaseModel):
    name: str | None = None  # contains, in first, last or nickname
    first_name: str | None = None
    last_name: str | None = None
    record_status: str | None = None
    state: str | None = None
    city: str | None = None
    zip_code: str | None = None
    servicing_agent: str | None = None
    lead_source: str | None = None
    gender: str | None = None
    smoker_status: str | None = None
    has_sales_record: bool | None = None
    # policy filters: one policy of the individual meets all of them
    policy_line_of_business: str | None = None  # coverage type
    policy_status: str | None = None
    policy_carrier: str | None = None
    policy_effective_from: date | None = None
    policy_effective_to: date | None = None
    policy_renewal_from: date | None = None  # renewal date = the policy's expiration date
    policy_renewal_to: date | None = None


class SalesRecordJobIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    sales_record_type: str = Field(min_length=1, max_length=100)
    criteria: SearchCriteria | None = None
    saved_search_id: str | None = None


def _words(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "cannot be blank" if ctx.get("min_length") == 1 else f"at least {ctx.get('min_length')} characters"
    if kind.startswith(("date_", "datetime_")):
        return "not a date: use the date picker (YYYY-MM-DD)"
    if kind == "literal_error":
        return "pick one from the list"
    return str(error["msg"]).removeprefix("Value error, ")


def form_problems(exc: ValidationError, labels: dict[str, str]) -> dict[str, str]:
    """A refused form's reasons in words, by form field (``cf_<n>`` for the n-th custom-field row),
    each naming the field as the form does."""
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = e["loc"]
        if loc and loc[0] == "custom_fields" and len(loc) > 1:
            key, label = f"cf_{loc[1]}", f"Custom field {int(loc[1]) + 1}"
        else:
            key = str(loc[0]) if loc else ""
            label = labels.get(key, key.replace("_", " ").capitalize())
        out.setdefault(key, f"{label}: {_words(e)}")
    return out


def individual_json(ind: Individual, cipher: PiiCipher, reveal: bool) -> dict[str, Any]:
    values = clear_values(ind, cipher)
    for f in PII_FIELDS:
        if not reveal:
            values[f] = mask(values[f])
    for k in ("medicare_part_a", "medicare_part_b"):
        values[k] = values[k].isoformat() if values[k] else None
    return {"id": ind.id, "external_id": ind.external_id, "version": ind.version, "client_id": ind.client_id,
            **values, "custom_fields": json.loads(ind.custom_fields), "created_at": ind.created_at.isoformat(),
            "updated_at": ind.updated_at.isoformat()}


def saved_search_json(s: SavedSearch) -> dict[str, Any]:
    criteria = json.loads(s.criteria)
    return {"id": s.id, "name": s.name, "criteria": criteria, "words": criteria_words(criteria), "owner": s.owner,
            "created_at": s.created_at.isoformat()}


def job_json(j: SalesRecordJob) -> dict[str, Any]:
    return {"id": j.id, "status": j.status, "total": j.total, "created": j.created, "skipped": j.skipped,
            "failed": j.failed, "error": j.error, "sales_record_type": j.sales_record_type,
            "criteria": json.loads(j.criteria), "saved_search_id": j.saved_search_id, "created_by": j.created_by,
            "created_at": j.created_at.isoformat(), "finished_at": j.finished_at.isoformat() if j.finished_at else None}


def sales_record_json(r: SalesRecord, cipher: PiiCipher, reveal: bool) -> dict[str, Any]:
    stored = json.loads(r.fields)
    fields = {}
    for f in CARRIED_FIELDS:
        v = stored.get(storage_key(f))
        if f in PII_FIELDS and v:
            v = cipher.decrypt(v)
            v = v if reveal else mask(v)
        fields[f] = v
    return {"id": r.id, "individual_id": r.individual_id, "sales_record_type": r.sales_record_type,
            "assigned_user": r.assigned_user, "fields": fields, "custom_fields": json.loads(r.custom_fields),
            "job_id": r.job_id, "created_by": r.created_by, "created_at": r.created_at.isoformat(),
            "converted_by": r.converted_by, "converted_at": r.converted_at.isoformat() if r.converted_at else None,
            "status": "converted" if r.converted_at else "open"}


class SearchRequest(SearchCriteria):
    sort: str = "last_name"
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class SavedSearchIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    criteria: SearchCriteria

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("give the search a name")
        return _no_control_characters(v.strip())  # type: ignore[no-any-return]


class SavedSearchChange(BaseModel):
    """A saved search renamed and/or given other criteria (what is left out stays)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    criteria: SearchCriteria | None = None

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("give the search a name")
        return None if v is None else _no_control_characters(v.strip())  # type: ignore[no-any-return]


class PreviewIn(BaseModel):
    criteria: SearchCriteria | None = None
    saved_search_id: str | None = None


# -- responses ----------------------------------------------------------------------------------------
IndividualOut = create_model(
    "IndividualOut", __base__=Out, __doc__="An individual, PII masked unless the user may reveal it.",
    id=(str, ...), external_id=(str | None, ...), version=(int, ...), client_id=(str | None, ...),
    **{f: (str | None, ...) for f in STANDARD_FIELDS},
    custom_fields=(list[dict[str, Any]], ...), created_at=(str, ...), updated_at=(str, ...))


class IndividualPage(Out):
    total: int
    limit: int
    offset: int
    items: list[IndividualOut]  # type: ignore[valid-type]


class AuditEntry(Out):
    action: str
    actor: str
    at: str
    details: dict[str, Any]


class AuditList(Out):
    items: list[AuditEntry]


class SalesRecordJobOut(Out):
    id: str
    status: str
    total: int
    created: int
    skipped: int
    failed: int
    error: str | None
    sales_record_type: str
    criteria: dict[str, Any]
    saved_search_id: str | None
    created_by: str
    created_at: str
    finished_at: str | None


class SavedSearchOut(Out):
    id: str
    name: str
    criteria: dict[str, Any]
    words: list[str]  # the criteria as a person reads them
    owner: str
    created_at: str


class SavedSearchDeleted(Out):
    id: str
    deleted: bool


class SavedSearchWithJobs(SavedSearchOut):
    jobs: list[SalesRecordJobOut]


class SavedSearchList(Out):
    total: int
    offset: int
    limit: int
    sort: str
    items: list[SavedSearchWithJobs]


class PreviewOut(Out):
    total: int
    will_create: int
    will_skip: int
    sales_record_types: list[str]


class SalesRecordOut(Out):
    id: str
    individual_id: str
    sales_record_type: str
    assigned_user: str | None
    fields: dict[str, Any]  # the carried fields, PII masked unless the user may reveal it
    custom_fields: list[dict[str, Any]]
    job_id: str | None
    created_by: str
    created_at: str
    converted_by: str | None
    converted_at: str | None
    status: str


class SalesRecordPage(Out):
    total: int
    limit: int
    offset: int
    items: list[SalesRecordOut]


class ConvertOut(Out):
    individual: IndividualOut  # type: ignore[valid-type]
    filled: list[str]
    conflicts_kept_individual: list[str]


class ImportJobOut(Out):
    id: str
    file_name: str
    status: str
    error: str | None
    total: int
    rows_done: int
    progress: float
    created: int
    updated: int
    invalid: int
    blank: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    url: str
    page: str
    results_url: str
    errors_url: str


class ImportJobAccepted(Out):
    background: bool
    job: ImportJobOut


class ImportRowOut(Out):
    line: int
    outcome: str
    id: str | None
    name: str
    reasons: list[str]


class ImportRowErrors(Out):
    line: int
    errors: list[str]


class ImportResult(Out):
    total: int
    created: int
    updated: int
    invalid: int
    blank: int
    errors: list[ImportRowErrors]
    results: list[ImportRowOut]


class ImportResultsPage(Out):
    total: int
    offset: int
    limit: int
    items: list[ImportRowOut]
    next_offset: int | None
