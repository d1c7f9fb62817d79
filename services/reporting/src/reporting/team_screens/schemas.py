"""Team Screens' response models: a snapshot's header, its counts, the items behind a count."""

from __future__ import annotations

from typing import Any

from reporting.responses import Out

Counts = dict[str, dict[str, int]]  # {category: {status: count}}, every status of a category present


class CalculatedOut(Out):
    snapshot_id: str
    calculated_on: str
    counts: int  # count rows written
    duration_ms: int
    as_of: bool = False
    limits: str | None = None  # for an "as of" snapshot: what today's read model cannot reconstruct


class WindowStarts(Out):
    activities: str
    submissions: str
    renewals: str
    other_transactions: str


class SnapshotHeader(Out):
    snapshot_id: str
    calculated_on: str
    triggered_by: str
    time_zone: str
    window_starts: WindowStarts
    windows: dict[str, Any]  # the window settings the snapshot was calculated with
    items_stored: bool  # the ids behind its counts are kept (not yet expired)
    as_of: bool  # computed for a past time (calculated_on) from today's read model
    changed_after: int | None = None  # as of: counted items written after that time
    shown_in: str | None = None  # ?tz=: the zone of the *_local times
    calculated_on_local: str | None = None
    window_starts_local: dict[str, str] | None = None


class SnapshotOut(SnapshotHeader):
    duration_ms: int


class LatestOut(SnapshotHeader):
    """Everyone's counts (``users``, ``groups``), or one user's or group's (``scope``, ``assignee``,
    ``counts``, and for each count the URL of its items in ``items``)."""

    users: dict[str, Counts] | None = None
    groups: dict[str, Counts] | None = None
    scope: str | None = None
    assignee: str | None = None
    counts: Counts | None = None
    items: dict[str, dict[str, str]] | None = None


class ItemsOut(SnapshotHeader):
    category: str
    status: str
    total: int
    offset: int
    limit: int
    sort: str
    frozen: bool  # the items are the ids the snapshot stored (else the rule re-applied to today's items)
    show: str  # counted | new
    moved: int | None  # counted items that no longer qualify now
    new_since: int | None  # items that qualify now but were not counted
    # the counted ids with ``moved``, ``counted_user``, ``counted_group`` and the item's columns as they are now
    items: list[dict[str, Any]]


class WindowOut(Out):
    category: str
    window: str  # in effect
    configured: str  # the setting, used when nobody set one on the screen
    set_by: str | None
    set_at: str | None


class WindowsIn(Out):
    """{category: window} for the categories to change; '' or null goes back to the setting."""

    windows: dict[str, str | None]
