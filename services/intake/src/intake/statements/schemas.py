"""What the statements routes take and answer: carrier profiles, publishing, lines."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from intake.models import CarrierProfile, Statement
from intake.responses import Out
from intake.statements.domain.mapping import BILL_TYPES, FIELDS
from intake.statements.publishing import may_publish_on_its_own


class ProfileIn(BaseModel):
    columns: dict[str, str] = {}
    bill_types: dict[str, str] = {}
    prefixes: list[str] = []
    sheet: str | None = None
    default_commission_rate: str | None = None  # "15%" or "0.15"; blank: none


class PublishRequest(BaseModel):
    exclude_unmatched: bool = False


def profile_json(carrier: str, row: CarrierProfile | None) -> dict[str, Any]:
    if row is None:
        return {"carrier": carrier, "columns": {}, "bill_types": {}, "prefixes": [], "sheet": None,
                "default_commission_rate": None, "fields": list(FIELDS), "bill_type_values": list(BILL_TYPES)}
    rate = row.default_commission_rate
    return {"carrier": carrier, "columns": json.loads(row.columns), "bill_types": json.loads(row.bill_types),
            "prefixes": json.loads(row.prefixes), "sheet": row.sheet,
            "default_commission_rate": None if rate is None else str(rate.normalize()), "updated_by": row.updated_by,
            "updated_at": row.updated_at.isoformat(), "fields": list(FIELDS), "bill_type_values": list(BILL_TYPES)}


def line_json(r: Any) -> dict[str, Any]:
    return {
        "line_no": r["line_no"], "valid": r["valid"], "errors": json.loads(r["errors"] or "[]"),
        "raw": json.loads(r["raw"]) if r["raw"] else None, "policy_number": r["policy_number"], "insured_name": r["insured_name"],
        "transaction_type": r["transaction_type"], "bill_type": r["bill_type"],
        "effective_date": r["effective_date"].isoformat() if r["effective_date"] else None,
        "expiration_date": r["expiration_date"].isoformat() if r["expiration_date"] else None,
        "line_of_business": r["line_of_business"],
        "premium": str(r["premium"]) if r["premium"] is not None else None,
        "commission_rate": str(r["commission_rate"]) if r["commission_rate"] is not None else None,
        "commission_amount": str(r["commission_amount"]) if r["commission_amount"] is not None else None,
        "producer_code": r["producer_code"], "match_status": r["match_status"], "match_reason": r["match_reason"],
        "policy_id": r["policy_id"], "excluded": r["excluded"],
    }


# -- responses ----------------------------------------------------------------------------------------
class ProfileOut(Out):
    carrier: str
    columns: dict[str, str]
    bill_types: dict[str, str]
    prefixes: list[str]
    sheet: str | None
    default_commission_rate: str | None
    updated_by: str | None = None  # absent until the profile is saved
    updated_at: str | None = None
    fields: list[str]
    bill_type_values: list[str]


class StatementCounts(Out):
    total: int
    valid: int
    invalid: int
    blank: int
    matched: int
    unmatched: int
    ambiguous: int
    excluded: int


class StatementOut(Out):
    id: str
    carrier: str
    source: str
    file_name: str
    sha256: str | None
    size_bytes: int | None
    status: str
    error: str | None
    detected: str | None
    duplicate_of: str | None
    publishes_on_its_own: bool  # False for a re-import with the duplicate override: a user publishes it
    rows_processed: int
    counts: StatementCounts
    total: int
    valid: int
    invalid: int
    blank: int
    matched: int
    unmatched: int
    ambiguous: int
    imported_by: str
    created_at: str
    completed_at: str | None
    published_by: str | None
    published_at: str | None


class StatementPage(Out):
    total: int
    items: list[StatementOut]


class LineOut(Out):
    line_no: int
    valid: bool
    errors: list[str]
    raw: list[Any] | None
    policy_number: str | None
    insured_name: str | None
    transaction_type: str | None
    bill_type: str | None
    effective_date: str | None
    expiration_date: str | None
    line_of_business: str | None
    premium: str | None
    commission_rate: str | None
    commission_amount: str | None
    producer_code: str | None
    match_status: str | None
    match_reason: str | None
    policy_id: str | None
    excluded: bool


class LinePage(Out):
    total: int
    items: list[LineOut]


class DuplicateOut(Out):
    detail: str
    first_import_id: str


def statement_json(s: Statement) -> dict[str, Any]:
    return {
        "id": s.id, "carrier": s.carrier, "source": s.source, "file_name": s.file_name, "sha256": s.sha256,
        "size_bytes": s.size_bytes, "status": s.status, "error": s.error, "detected": s.detected,
        "duplicate_of": s.duplicate_of, "publishes_on_its_own": may_publish_on_its_own(s),
        "rows_processed": s.rows_processed,
        "counts": {"total": s.total, "valid": s.valid, "invalid": s.invalid, "blank": s.blank,
                   "matched": s.matched, "unmatched": s.unmatched, "ambiguous": s.ambiguous,
                   "excluded": s.excluded},
        "total": s.total, "valid": s.valid, "invalid": s.invalid, "blank": s.blank, "matched": s.matched,
        "unmatched": s.unmatched, "ambiguous": s.ambiguous,
        "imported_by": s.imported_by, "created_at": s.created_at.isoformat(),
        "completed_at": s.completed_at.isoformat() if s.completed_at else None,
        "published_by": s.published_by, "published_at": s.published_at.isoformat() if s.published_at else None,
    }


def error_rows(header: list[str], lines: list[dict[str, Any]]) -> list[list[str]]:
    """Invalid rows as they came (cells under their headers), then the line number and every reason."""
    out = []
    width = len(header)
    for ln in lines:
        cells = json.loads(ln["raw"] or "[]")
        values = (cells + [""] * width)[:width]
        reasons = json.loads(ln["errors"] or "[]")
        extra = [f"column {width + i + 1}={v}" for i, v in enumerate(cells[width:]) if str(v).strip()]
        if extra:
            reasons.append(f"cells beyond the header: {', '.join(extra)}")
        out.append([*values, str(ln["line_no"]), "; ".join(reasons)])
    return out
