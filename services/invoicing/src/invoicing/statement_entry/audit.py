"""Audit rows of statement-entry changes (issue 19 item 6): every writer of a row leaves who changed
which field from what to what, so amounts no longer keep only the last writer.

A save of edited rows writes one ``statement_entry.changed`` row per changed entry, with before and
after of each changed field. A set-based change (select all found, reset amounts, confirm
duplicates) writes one row for the action: the fields' before/after and the entries it touched, as
id ranges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agency_common.outbox import Transaction

# a change to these is recorded by name only: the value is personal data
PII_FIELDS = frozenset({"client_name"})
# ranges kept in one audit row (the detail column holds 8,000 characters); the count is always exact
MAX_RANGES = 200


def entry_changes(row: Any, after: Mapping[str, Any]) -> dict[str, Any]:
    """Each field whose new value differs from the row's, as {"before": ..., "after": ...}."""
    changes: dict[str, Any] = {}
    for field, new in after.items():
        old = getattr(row, field)
        if old != new:
            changes[field] = {"changed": True} if field in PII_FIELDS else {"before": old, "after": new}
    return changes


async def audit_entry_change(tx: Transaction, rec_id: str, entry_id: int, version: int,
                             changes: dict[str, Any]) -> None:
    await tx.audit("statement_entry.changed", subject_type="statement_entry", subject_id=str(entry_id),
                   detail={"reconciliation_id": rec_id, "version": version, "changes": changes})


def id_ranges(ids: Iterable[int]) -> list[list[int]]:
    """[[first, last], ...] of consecutive ids: a select-all over 100,000 rows is a handful of ranges."""
    ranges: list[list[int]] = []
    for i in sorted(ids):
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    return ranges


async def audit_bulk_change(tx: Transaction, rec_id: str, ids: list[int], changes: dict[str, Any],
                            **detail: Any) -> None:
    """One row for a set-based change of ``ids`` (nothing when no row changed)."""
    if not ids:
        return
    ranges = id_ranges(ids)
    await tx.audit("statement_entry.changed", subject_type="reconciliation", subject_id=rec_id, detail={
        "reconciliation_id": rec_id, "count": len(ids), "changes": changes, "entry_id_ranges": ranges[:MAX_RANGES],
        **({"entry_id_ranges_truncated": True} if len(ranges) > MAX_RANGES else {}), **detail})
