"""Reading the Team Screens: snapshots, their counts (nested per assignee, category and status) and
the items behind a count, shared by the JSON API and the pages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from agency_common.db.engine import Database
from agency_common.errors import Invalid, NotFound
from sqlalchemy import select

from reporting.models import TeamScreenCount, TeamScreenSnapshot
from reporting.team_screens.domain.rules import ACTIVITIES, CATEGORY_STATUSES
from reporting.team_screens.domain.windows import Windows
from reporting.team_screens.sql_rules import item_statement

S = TeamScreenSnapshot.__table__
C = TeamScreenCount.__table__


def snapshot_windows(snapshot: dict[str, Any]) -> Windows:
    return Windows(calculated_on=snapshot["calculated_on"], activities=snapshot["activities_window_start"],
                   submissions=snapshot["submissions_window_start"], renewals=snapshot["renewals_window_start"],
                   other=snapshot["other_window_start"])


async def latest_snapshot(db: Database) -> dict[str, Any] | None:
    async with db.session() as session:
        row = (await session.execute(select(S).order_by(S.c.created_at.desc(), S.c.id).limit(1))).mappings().first()
        return dict(row) if row else None


async def get_snapshot(db: Database, snapshot_id: str) -> dict[str, Any] | None:
    async with db.session() as session:
        row = (await session.execute(select(S).where(S.c.id == snapshot_id))).mappings().first()
        return dict(row) if row else None


async def snapshot_counts(db: Database, snapshot_id: str, scope: str | None = None,
                          assignee: str | None = None) -> list[dict[str, Any]]:
    stmt = select(C.c.scope, C.c.assignee, C.c.category, C.c.status, C.c.count).where(C.c.snapshot_id == snapshot_id)
    if scope is not None:
        stmt = stmt.where(C.c.scope == scope)
    if assignee is not None:
        stmt = stmt.where(C.c.assignee == assignee)
    async with db.session() as session:
        return [dict(r) for r in (await session.execute(stmt.order_by(C.c.scope, C.c.assignee))).mappings()]




async def list_snapshots(db: Database, limit: int) -> list[dict[str, Any]]:
    """The newest snapshots first (at most 500)."""
    async with db.session() as session:
        rows = (await session.execute(select(S).order_by(S.c.created_at.desc()).limit(min(limit, 500)))).mappings()
        return [dict(r) for r in rows]


def nest_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    """{scope: {assignee: {category: {status: count}}}}, every status of a category present."""
    out: dict[str, dict[str, dict[str, dict[str, int]]]] = {"user": {}, "group": {}}
    for r in rows:
        cats = out[r["scope"]].setdefault(r["assignee"], {})
        cats.setdefault(r["category"], {s: 0 for s in CATEGORY_STATUSES[r["category"]]})[r["status"]] = r["count"]
    for per_assignee in out.values():
        for cats in per_assignee.values():
            for category, statuses in CATEGORY_STATUSES.items():
                cats.setdefault(category, {s: 0 for s in statuses})
    return out


def zero_counts() -> dict[str, dict[str, int]]:
    return {c: dict.fromkeys(st, 0) for c, st in CATEGORY_STATUSES.items()}


def scope_of(user: str | None, group: str | None) -> tuple[str | None, str | None]:
    """("user", login), ("group", name) or (None, None) for everyone."""
    if user is not None and group is not None:
        raise Invalid("give user or group, not both")
    if user is not None:
        return "user", user
    if group is not None:
        return "group", group
    return None, None


async def snapshot_or_not_found(db: Database, snapshot_id: str | None) -> dict[str, Any]:
    """The snapshot named, or the latest one without a name."""
    snap = await (get_snapshot(db, snapshot_id) if snapshot_id else latest_snapshot(db))
    if snap is None:
        raise NotFound("no Team Screens snapshot yet" if not snapshot_id else "no such snapshot")
    return snap


def items_url(snapshot_id: str, category: str, status: str, scope: str, assignee: str) -> str:
    return f"/api/team-screens/{snapshot_id}/items?" + urlencode(
        {"category": category, "status": status, scope: assignee})


def item_links(snapshot_id: str, scope: str, assignee: str) -> dict[str, dict[str, str]]:
    """For each count of one user or group, the URL of the items behind it."""
    return {category: {status: items_url(snapshot_id, category, status, scope, assignee) for status in statuses}
            for category, statuses in CATEGORY_STATUSES.items()}


def item_dict(category: str, row: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    if category != ACTIVITIES:
        out["periods"] = json.loads(row.get("periods") or "[]")
    return out


async def snapshot_items(db: Database, snapshot_id: str, category: str, status: str, user: str | None,
                         group: str | None, limit: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The items behind one count: the status rule with the snapshot's windows, over the items as
    they are now (an item changed since the calculation may have moved)."""
    snap = await snapshot_or_not_found(db, snapshot_id)
    scope, assignee = scope_of(user, group)
    try:
        stmt = item_statement(category, status, snapshot_windows(snap), scope, assignee, limit=min(limit, 5000))
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    async with db.session() as session:
        rows = [item_dict(category, dict(r)) for r in (await session.execute(stmt)).mappings()]
    return snap, rows
