"""Individuals and sales records (seed 001): which fields a sales record carries over, how a sales
record merges back into its individual (pure, no I/O). How a policy client's name splits into
first and last name is intake.domain.insured's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from intake.domain.values import ValueProblem, parse_amount, parse_date, parse_rate

# PII: the field as users see it → the encrypted column.
PII_FIELDS = {"dob": "dob_enc", "medicare_id": "medicare_id_enc", "ssn": "ssn_enc",
              "drivers_license": "drivers_license_enc"}

STANDARD_FIELDS = (
    "first_name", "middle_name", "last_name", "nickname", "title", "servicing_agent", "servicing_agent_user",
    "record_status", "primary_email", "secondary_email", "cell_phone", "home_phone", "address_type",
    "address_line1", "city", "county", "zip_code", "state", "gender", "dob", "lead_source", "medicare_id",
    "medicare_part_a", "medicare_part_b", "ssn", "drivers_license", "smoker_status",
)

# Exactly the seed's carry-over list. The seed lists "Secondary Email" and not the primary email,
# so the primary email is not copied. "Linked Agent": the servicing agent is copied and its linked
# user (if any) becomes the sales record's assigned user.
CARRIED_FIELDS = (
    "first_name", "middle_name", "last_name", "nickname", "title", "servicing_agent", "record_status",
    "secondary_email", "cell_phone", "home_phone", "address_type", "address_line1", "city", "county",
    "zip_code", "state", "gender", "dob", "lead_source", "medicare_id", "medicare_part_a", "medicare_part_b",
    "ssn", "drivers_license", "smoker_status",
)

_CARRIED_KEYS = tuple(PII_FIELDS.get(f, f) for f in CARRIED_FIELDS)
CUSTOM_FIELD_TYPES = ("text", "date", "dropdown", "number", "currency", "percent", "checkbox", "checkbox_list")
NOT_CARRIED_CUSTOM_TYPES = frozenset({"number", "currency", "percent", "checkbox", "checkbox_list"})


# What an operator sees and what the CSV template names each field (the seed's wording).
FIELD_LABELS = {
    "first_name": "First Name", "middle_name": "Middle Name", "last_name": "Last Name", "nickname": "Nickname",
    "title": "Title", "servicing_agent": "Servicing Agent", "servicing_agent_user": "Servicing Agent User",
    "record_status": "Record Status", "primary_email": "Primary Email", "secondary_email": "Secondary Email",
    "cell_phone": "Cell Phone", "home_phone": "Home Phone", "address_type": "Address Type",
    "address_line1": "Address Line 1", "city": "City", "county": "County", "zip_code": "Zip Code", "state": "State",
    "gender": "Gender", "dob": "Date of Birth", "lead_source": "Lead Source", "medicare_id": "Medicare Beneficiary ID",
    "medicare_part_a": "Medicare Effective Date Part A", "medicare_part_b": "Medicare Effective Date Part B",
    "ssn": "SSN", "drivers_license": "Driver's License Number", "smoker_status": "Smoker Status",
}
_TYPE_ALIASES = {"checkbox list": "checkbox_list", "checkbox-list": "checkbox_list", "checkboxlist": "checkbox_list",
                 "drop down": "dropdown", "drop-down": "dropdown", "picklist": "dropdown", "money": "currency",
                 "percentage": "percent"}
_TRUE = {"true", "yes", "y", "1", "x", "on", "checked"}
_FALSE = {"false", "no", "n", "0", "off", "unchecked", ""}


def custom_type(raw: str) -> str:
    """A custom-field type as spelled by a person or a CRM ("Checkbox List") → ours ("checkbox_list")."""
    t = " ".join(str(raw).strip().lower().split())
    t = _TYPE_ALIASES.get(t, t)
    if t not in CUSTOM_FIELD_TYPES:
        raise ValueError(f"custom field type must be one of {', '.join(CUSTOM_FIELD_TYPES)}")
    return t


def custom_value(ctype: str, value: Any) -> Any:
    """A custom field's value checked against its type, as stored in JSON: text and dropdown as
    text, date as ISO text, number/currency/percent as exact decimal text (percent as a fraction,
    15% → 0.15), checkbox as a boolean, checkbox list as a list of text. Errors never repeat the
    value (it may be personal)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if ctype in ("text", "dropdown"):
            return str(value).strip()
        if ctype == "date":
            return (value if isinstance(value, date) else parse_date(str(value))).isoformat()  # type: ignore[union-attr]
        if ctype == "number":
            number = Decimal(str(value).strip().replace(",", ""))
            if not number.is_finite():
                raise ValueError
            return str(number)
        if ctype == "currency":
            return str(value if isinstance(value, Decimal) else parse_amount(str(value)))
        if ctype == "percent":
            return str(parse_rate(str(value)))
        if ctype == "checkbox":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        # checkbox list: a JSON list, or semicolon-separated text as in every other import
        items = value if isinstance(value, list | tuple) else str(value).split(";")
        return [str(i).strip() for i in items if str(i).strip()]
    except (ValueProblem, ValueError, InvalidOperation, TypeError, AttributeError):
        raise ValueError(f"not a valid {ctype.replace('_', ' ')} value") from None


def storage_key(field: str) -> str:
    return PII_FIELDS.get(field, field)


def carry_over(individual: Mapping[str, Any], custom_fields: Sequence[Mapping[str, Any]]
               ) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """The sales record's fields (by storage column: PII stays encrypted), its custom fields (the
    supported types only) and its assigned user (the servicing agent's linked user)."""
    fields = {key: individual.get(key) for key in _CARRIED_KEYS}
    custom = [dict(c) for c in custom_fields if c.get("type") not in NOT_CARRIED_CUSTOM_TYPES]
    assigned = individual.get("servicing_agent_user") if individual.get("servicing_agent") else None
    return fields, custom, assigned or None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def merge_back(individual: Mapping[str, Any], individual_custom: Sequence[Mapping[str, Any]],
               record: Mapping[str, Any], record_custom: Sequence[Mapping[str, Any]]
               ) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """Convert to Individual, on clear values keyed by field name. The individual is the record of
    truth (it is never deleted and other records point at it), so: a sales-record value fills a
    field that is empty on the individual; where both hold different values the individual keeps
    its own and the field is reported as a conflict; custom fields the individual lacks (by name)
    are added. Returns (changes by field, merged custom fields, conflicting fields)."""
    changes: dict[str, Any] = {}
    conflicts: list[str] = []
    for field in CARRIED_FIELDS:
        theirs = record.get(field)
        if _empty(theirs):
            continue
        mine = individual.get(field)
        if _empty(mine):
            changes[field] = theirs
        elif mine != theirs:
            conflicts.append(field)
    names = {c.get("name") for c in individual_custom}
    merged = [dict(c) for c in individual_custom] + [dict(c) for c in record_custom if c.get("name") not in names]
    return changes, merged, conflicts



# -- an individual as a person reads and types it ----------------------------------------------------
US_STATES = ("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
             "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
             "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
             "PR", "VI", "GU", "AS", "MP")
DATE_FIELDS = ("dob", "medicare_part_a", "medicare_part_b")
# what the form suggests for fields that hold a few words (the CRM and imports may bring others: kept)
SUGGESTIONS = {"record_status": ("active", "inactive", "prospect"), "gender": ("F", "M", "X"),
               "smoker_status": ("Y", "N"), "address_type": ("home", "mailing", "work")}


def _percent(value: Any) -> str:
    hundred = (Decimal(str(value)) * 100).normalize()
    return f"{hundred:f} %"


def custom_display(ctype: str, value: Any) -> str:
    """A custom field's stored value as a person reads it: 15 %, Yes, "golf, fishing", $1,234.50."""
    if value is None or value == "" or value == []:
        return ""
    try:
        if ctype == "percent":
            return _percent(value)
        if ctype == "checkbox":
            return "Yes" if value is True or str(value).lower() == "true" else "No"
        if ctype == "checkbox_list":
            return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        if ctype == "currency":
            return f"${Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        pass
    return str(value)


def custom_input(ctype: str, value: Any) -> str:
    """A custom field's stored value as a form shows it to be typed again (``custom_value`` reads it
    back): a checkbox list with semicolons, a percent as 15 %, a checkbox as Yes or No."""
    if ctype == "checkbox_list" and isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if ctype == "currency" and value not in (None, ""):
        return str(value)
    return custom_display(ctype, value)


def text_problem(value: str) -> str | None:
    """Why a typed text cannot be kept (control characters: tabs, escapes, line breaks), else None."""
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        return "control characters (tabs, line breaks, escapes) are not accepted"
    return None


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields of ``after`` whose value differs from ``before`` (both clear, dates as ISO text)."""
    def norm(v: Any) -> Any:
        return None if v is None or (isinstance(v, str) and not v.strip()) else v
    return [f for f, v in after.items() if norm(v) != norm(before.get(f))]


def name_problem(first_name: str | None, last_name: str | None) -> str | None:
    """An individual typed on a form needs a name to be found again."""
    if not (first_name or "").strip() and not (last_name or "").strip():
        return "give a first name or a last name"
    return None
