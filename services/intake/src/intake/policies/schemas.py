"""What the book of business takes and answers: a policy by hand, Update Policies (by
Carrier), a policy as JSON and as the event's snapshot."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agency_common.contracts.intake import PolicySnapshot
from agency_common.validation import NonBlankStr
from pydantic import BaseModel, Field, field_validator

from intake.domain.insured import formula_reason
from intake.domain.values import parse_rate
from intake.models import (
    PolicyUpdateAudit,
)
from intake.policies.domain.lines import line_status
from intake.responses import Out


class NewPolicy(BaseModel):
    """A policy created by hand (it belongs to no Create-Policies session)."""

    carrier: NonBlankStr = Field(min_length=1, max_length=200)
    policy_number: NonBlankStr = Field(min_length=1, max_length=100)
    client_name: NonBlankStr = Field(min_length=1, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default="active", max_length=50)
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)
    commission_rate: Decimal | None = None  # "15%" or 0.15; none: the carrier's default rate

    @field_validator("commission_rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Any:
        return parse_rate(str(value)) if value is not None and str(value).strip() else None

    @field_validator("client_name")
    @classmethod
    def _not_a_formula(cls, value: str) -> str:
        reason = formula_reason(value)
        if reason:
            raise ValueError(reason.replace("insured name", "client name").replace(
                "; give the line a client name override", ""))
        return value


POLICY_DEFAULT_FIELDS = ("line_of_business", "business_type", "mode", "status", "branch", "department", "unit",
                         "servicing_agent")


class PolicyFilter(BaseModel):
    carrier: str = Field(min_length=1, max_length=200)
    session_id: str | None = None
    line_of_business: str | None = None
    status: str | None = None
    policy_number: str | None = None  # contains
    client_name: str | None = None  # contains
    effective_from: date | None = None
    effective_to: date | None = None


class PolicyChanges(BaseModel):
    line_of_business: str | None = Field(default=None, max_length=100)
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    status: str | None = Field(default=None, max_length=50)
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=100)


class UpdateByCarrierRequest(BaseModel):
    filter: PolicyFilter
    changes: PolicyChanges


POLICY_SNAPSHOT_FIELDS = (
    "carrier", "policy_number", "client_id", "client_name", "bill_to_name", "line_of_business",
    "business_type", "mode", "status", "effective_date", "expiration_date", "estimated_premium",
    "annualized_premium", "billed_premium", "commission_rate", "estimated_agency_commission",
    "billed_agency_commission", "branch", "department", "unit", "servicing_agent", "session_id", "updated_at",
)


def snapshot(policy: Any) -> PolicySnapshot:
    """From a Policy object or a Core row mapping."""
    get = (lambda k: policy[k]) if isinstance(policy, dict) else (lambda k: getattr(policy, k))
    data = {k: get(k) for k in POLICY_SNAPSHOT_FIELDS}
    data["commission_rate_type"] = "percent" if data["commission_rate"] is not None else None
    return PolicySnapshot(policy_id=get("id"), version=get("version"), **data)


def policy_json(policy: Any) -> dict[str, Any]:
    get = (lambda k: policy[k]) if isinstance(policy, dict) else (lambda k: getattr(policy, k))
    return snapshot(policy).model_dump(mode="json") | {"created_by": get("created_by")}


def audit_json(a: PolicyUpdateAudit) -> dict[str, Any]:
    return {"id": a.id, "carrier": a.carrier, "filter": json.loads(a.filters), "changes": json.loads(a.changes),
            "count": a.count, "updated_by": a.updated_by, "updated_at": a.updated_at.isoformat()}


def _text(value: Any) -> str | None:
    return None if value is None else value.isoformat() if isinstance(value, date | datetime) else str(value)


def line_json(r: dict[str, Any]) -> dict[str, Any]:
    """A statement line of the policy, with its statement (money and rates as decimal text)."""
    return {"id": r["id"], "statement_id": r["statement_id"], "statement_file": r["file_name"],
            "statement_date": _text(r["statement_date"]), "imported_at": _text(r["imported_at"]),
            "carrier": r["carrier"], "line_no": r["line_no"], "policy_number": r["policy_number"],
            "insured_name": r["insured_name"], "transaction_type": r["transaction_type"], "bill_type": r["bill_type"],
            "effective_date": _text(r["effective_date"]), "premium": _text(r["premium"]),
            "commission_rate": _text(r["commission_rate"]), "commission": _text(r["commission_amount"]),
            "match_status": r["match_status"], "match_reason": r["match_reason"], "excluded": bool(r["excluded"]),
            "status": line_status(valid=bool(r["valid"]), match_status=r["match_status"], excluded=bool(r["excluded"]),
                                  statement_status=r["statement_status"])}


def posting_json(r: dict[str, Any]) -> dict[str, Any]:
    """A posting applied to the policy: the invoice, its reconciliation, the event that brought it."""
    return {"invoice_id": r["invoice_id"], "reconciliation_id": r["reconciliation_id"], "bill_type": r["bill_type"],
            "effective_date": _text(r["effective_date"]), "expiration_date": _text(r["expiration_date"]),
            "premium": _text(r["premium"]), "commission": _text(r["commission"]), "event_id": r["event_id"],
            "posted_by": r["posted_by"], "posted_at": _text(r["posted_at"]), "applied_at": _text(r["applied_at"])}


# -- responses ----------------------------------------------------------------------------------------
class PolicyOut(Out):
    """``PolicySnapshot`` as JSON (money and rates as decimal text, dates ISO) and who created it."""

    policy_id: str
    version: int
    carrier: str
    policy_number: str
    client_id: str | None
    client_name: str
    bill_to_name: str | None
    line_of_business: str | None
    business_type: str | None
    mode: str | None
    status: str | None
    in_history: bool
    effective_date: str | None
    expiration_date: str | None
    estimated_premium: str | None
    annualized_premium: str | None
    billed_premium: str | None
    commission_rate_type: str | None
    commission_rate: str | None
    estimated_agency_commission: str | None
    billed_agency_commission: str | None
    branch: str | None
    department: str | None
    unit: str | None
    servicing_agent: str | None
    session_id: str | None
    updated_at: str
    created_by: str


class PolicyPage(Out):
    total: int
    offset: int
    limit: int
    sort: str
    items: list[PolicyOut]


class TermOut(Out):
    effective_date: str | None
    expiration_date: str | None
    annualized_premium: str | None
    billed_premium: str | None
    estimated_agency_commission: str | None
    billed_agency_commission: str | None
    current: bool


class PolicyWithTerms(PolicyOut):
    terms: list[TermOut]


class AuditOut(Out):
    id: str
    carrier: str
    filter: dict[str, Any]
    changes: dict[str, Any]
    count: int
    updated_by: str
    updated_at: str


class AuditList(Out):
    items: list[AuditOut]


class LineOut(Out):
    id: int
    statement_id: str
    statement_file: str
    statement_date: str | None
    imported_at: str | None
    carrier: str
    line_no: int
    policy_number: str | None
    insured_name: str | None
    transaction_type: str | None
    bill_type: str | None
    effective_date: str | None
    premium: str | None
    commission_rate: str | None
    commission: str | None
    match_status: str | None
    match_reason: str | None
    excluded: bool
    status: str


class LinePage(Out):
    total: int
    offset: int
    limit: int
    sort: str
    items: list[LineOut]


class PostingOut(Out):
    invoice_id: str
    reconciliation_id: str | None
    bill_type: str
    effective_date: str | None
    expiration_date: str | None
    premium: str | None
    commission: str | None
    event_id: str | None
    posted_by: str | None
    posted_at: str | None
    applied_at: str | None


class PostingPage(Out):
    total: int
    offset: int
    limit: int
    sort: str
    items: list[PostingOut]
