"""A producer's editable details (contact, email, addresses, agency, agent type): the checks of an edit
and what it changes. Pure: the same rules for the form, the API and a re-uploaded onboarding file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appointments.domain.rows import AGENT_TYPES, EMAIL_RE

# field → (label, longest); "agency_npn" stands for the agency the producer belongs to
EDITABLE: dict[str, tuple[str, int]] = {
    "first_name": ("First name", 100), "last_name": ("Last name", 100), "email": ("Email", 254),
    "phone": ("Phone", 30), "business_address": ("Business address", 300),
    "mailing_address": ("Mailing address", 300), "agency_npn": ("Agency", 10), "agent_type": ("Agent type", 50),
}
REQUIRED = ("first_name", "last_name")
# Personal data: kept encrypted in the history, never in clear in the audit trail.
PII = frozenset({"first_name", "last_name", "email", "phone", "business_address", "mailing_address"})
PHONE_RE = re.compile(r"^\+?[\d\s().-]{7,30}$")


@dataclass
class Edit:
    """An edit checked: the new values of the fields given (blank → None), or the errors in words."""

    values: dict[str, str | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_edit(given: Mapping[str, Any], agency_npns: frozenset[str] | set[str]) -> Edit:
    """Check the fields given (others are left as they are): required names, an email address, a phone
    number, a known agency NPN, an accepted agent type, lengths. Every error at once, by field."""
    edit = Edit()
    for name, raw in given.items():
        if name not in EDITABLE:
            edit.errors[name] = f"{name!r} is not a field of a producer that can be edited"
            continue
        label, longest = EDITABLE[name]
        value = " ".join(str(raw).split()) if raw is not None else ""
        if not value:
            if name in REQUIRED:
                edit.errors[name] = f"{label} is required"
            else:
                edit.values[name] = None
            continue
        if len(value) > longest:
            edit.errors[name] = f"{label} is longer than {longest} characters"
        elif name == "email" and not EMAIL_RE.match(value):
            edit.errors[name] = f"Email {value!r} is not an email address"
        elif name == "phone" and (not PHONE_RE.match(value) or sum(c.isdigit() for c in value) < 7):
            edit.errors[name] = f"Phone {value!r} is not a phone number (digits, spaces, + ( ) - .)"
        elif name == "agency_npn" and value not in agency_npns:
            edit.errors[name] = f"Agency NPN {value} is not a known agency"
        elif name == "agent_type" and value not in AGENT_TYPES:
            edit.errors[name] = f"Agent type {value!r} is not one of: {', '.join(AGENT_TYPES)}"
        else:
            edit.values[name] = value
    return edit


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """field → (before, after) for each field of ``after`` whose value differs from ``before``."""
    return {k: (before.get(k), val) for k, val in after.items() if (before.get(k) or None) != (val or None)}


def from_onboarding_row(data: Mapping[str, Any]) -> dict[str, str]:
    """What a checked onboarding row says of a producer, as an edit: its non-blank details (a blank
    optional cell leaves the producer's value as it is; a file never clears a field)."""
    assignment = data.get("assignment") or {}
    given = {"first_name": data.get("first_name"), "last_name": data.get("last_name"), "email": data.get("email"),
             "agency_npn": data.get("agency_npn"), "agent_type": assignment.get("agent_type")}
    return {k: " ".join(str(val).split()) for k, val in given.items() if val and str(val).strip()}


def outcome(changed: list[str] | None) -> str:
    """A processed onboarding row in words: created, updated (which fields) or unchanged."""
    if changed is None:
        return "created"
    if not changed:
        return "unchanged"
    return "updated: " + ", ".join(label for k, (label, _) in EDITABLE.items() if k in changed)  # the form's order
