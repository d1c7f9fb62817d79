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
    items: list[dict[str, Any]]  # the columns of the category's items, as they are now
