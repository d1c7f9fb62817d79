"""Individuals and sales records (seed 001): which fields a sales record carries over, how a sales
record merges back into its individual, names of policy clients (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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


def split_name(name: str) -> tuple[str | None, str | None]:
    """A client name into (first, last): "Smith, John" → (John, Smith); "John A Smith" → (John A, Smith)."""
    name = " ".join(name.split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip() or None, last.strip() or None
    parts = name.rsplit(" ", 1)
    if len(parts) == 1:
        return None, parts[0] or None
    return parts[0], parts[1]
