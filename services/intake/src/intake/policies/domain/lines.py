"""A statement line's status as a person reads it on a policy's page (pure)."""

from __future__ import annotations

STATEMENT_STATUS_WORDS = {"published": "sent to invoicing", "imported": "imported, not yet sent to invoicing",
                          "failed": "its import failed"}


def line_status(*, valid: bool, match_status: str | None, excluded: bool, statement_status: str | None) -> str:
    """``matched, sent to invoicing``; an invalid or excluded line says so first."""
    if not valid:
        return "invalid"
    if excluded:
        return "excluded from invoicing"
    words = match_status or "not matched yet"
    after = STATEMENT_STATUS_WORDS.get(statement_status or "")
    return f"{words}, {after}" if after else words
