"""A saved search's criteria as a person reads them (pure): "State is TX", "Policy effective from
2026-01-01 to 2026-03-31", "Has a sales record: no"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CRITERIA_LABELS = {
    "name": "Name", "first_name": "First name", "last_name": "Last name", "record_status": "Record status",
    "state": "State", "city": "City", "zip_code": "Zip code", "servicing_agent": "Servicing agent",
    "lead_source": "Lead source", "gender": "Gender", "smoker_status": "Smoker status",
    "has_sales_record": "Has a sales record", "policy_line_of_business": "Policy line of business",
    "policy_status": "Policy status", "policy_carrier": "Policy carrier",
    "policy_effective": "Policy effective", "policy_renewal": "Policy renewal",
}
RANGES = ("policy_effective", "policy_renewal")


def _range(label: str, low: Any, high: Any) -> str:
    if low and high:
        return f"{label} from {low} to {high}"
    return f"{label} on or after {low}" if low else f"{label} on or before {high}"


def criteria_words(criteria: Mapping[str, Any]) -> list[str]:
    """Each criterion in words, in the search form's order; none: every individual."""
    given = {k: v for k, v in criteria.items() if v is not None and v != ""}
    out = []
    for key, label in CRITERIA_LABELS.items():
        if key in RANGES:
            low, high = given.get(f"{key}_from"), given.get(f"{key}_to")
            if low or high:
                out.append(_range(label, low, high))
        elif key in given:
            value = given[key]
            if key == "has_sales_record":
                out.append(f"{label}: {'yes' if value in (True, 'true') else 'no'}")
            elif key == "name":
                out.append(f"{label} contains “{value}”")
            else:
                out.append(f"{label} is {value}")
    return out or ["every individual"]
