"""Reading the Team Screens: snapshots, their counts (nested per assignee, category and status) and
the items behind a count, shared by the JSON API and the pages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from agency_common.db.engine import Database
from agency_common.errors import Invalid, NotFound
from agency_common.listing import Page, Sorting, page
from sqlalchemy import case, func, select

from reporting.models import TeamScreenCount, TeamScreenItem, TeamScreenSnapshot
from reporting.team_screens.domain.rules import ACTIVITIES, CATEGORY_STATUSES
from reporting.team_screens.domain.windows import Windows
from reporting.team_screens.sql_rules import (
    counted_items,
    live_items,
    new_since_items,
    source_of,
    status_predicate,
)

S = TeamScreenSnapshot.__table__
C = TeamScreenCount.__table__
TI = TeamScreenItem.__table__


def snapshot_windows(snapshot: dict[str, Any]) -> Windows:
    return Windows(calculated_on=snapshot["calculated_on"], activities=snapshot["activities_window_start"],
                   submissions=snapshot["submissions_window_start"], renewals=snapshot["renewals_window_start"],
                   other=snapshot["other_window_start"])


async def latest_snapshot(db: Database) -> dict[str, Any] | None:
    async with db.session() as session:
        row = (await session.execute(select(S).where(S.c.as_of.is_(False))  # an "as of" one is not the latest
                                     .order_by(S.c.created_at.desc(), S.c.id).limit(1))).mappings().first()
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


SHOWS = ("counted", "new")


def item_sorting(category: str, frozen: bool, moved: Any = None) -> Sorting:
    """A drill-down sorts by the item's id, its columns as they are now, and (frozen) whether it moved."""
    table, key = source_of(category)
    names = (("subject", "status", "target_date", "close_date") if category == ACTIVITIES
             else ("job_type", "create_time", "close_date"))
    columns: dict[str, list[Any]] = {n: [table.c[n]] for n in names}
    columns |= {"user": [table.c.assigned_user], "group": [table.c.assigned_group]}
    if frozen:
        return Sorting(columns | {"id": [TI.c.item_id], "moved": [moved]}, default="id", unique=TI.c.item_id)
    return Sorting(columns | {"id": [key]}, default="id", unique=key)


@dataclass
class ItemsView:
    """One page of the items behind a count. ``frozen``: they are the ids the snapshot stored (else,
    its items expired or predate storing them, the rule re-applied to today's rows); ``moved``: how many
    of them no longer qualify now; ``new_since``: how many qualify now but were not counted."""

    snap: dict[str, Any]
    page: Page
    frozen: bool
    show: str
    moved: int | None
    new_since: int | None


def frozen_item_dict(category: str, row: dict[str, Any]) -> dict[str, Any]:
    _table, key = source_of(category)
    item_id = row.pop("item_id")
    return {key.name: item_id} | item_dict(category, row)


async def snapshot_items(db: Database, snapshot_id: str, category: str, status: str, user: str | None,
                         group: str | None, *, offset: int = 0, limit: int = 100, sort: str = "id",
                         show: str = "counted", query: dict[str, str] | None = None) -> ItemsView:
    """The items behind one count. With the snapshot's stored ids: exactly what the number counted
    (each marked ``moved`` when it no longer qualifies now), or with ``show="new"`` the items that
    qualify now and were not counted."""
    snap = await snapshot_or_not_found(db, snapshot_id)
    scope, assignee = scope_of(user, group)
    if show not in SHOWS:
        raise Invalid(f"show is one of: {', '.join(SHOWS)}")
    w, as_of = snapshot_windows(snap), bool(snap["as_of"])
    try:
        status_predicate(category, status, w)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    async with db.session() as session:
        if not snap["items_stored"]:
            stmt = live_items(category, status, w, scope, assignee, as_of)
            listed = await page(session, stmt, item_sorting(category, False), sort, offset, limit, query, scalars=False)
            listed.items = [item_dict(category, dict(r._mapping)) for r in listed.items]
            return ItemsView(snap, listed, False, "counted", None, None)
        counted, moved_expr = counted_items(snap["id"], category, status, w, scope, assignee, as_of)
        fresh = new_since_items(snap["id"], category, status, w, scope, assignee, as_of)
        sub = counted.subquery()
        total, moved = (await session.execute(  # one pass over the counted items for both
            select(func.count(), func.coalesce(func.sum(case((sub.c.moved.is_(True), 1), else_=0)), 0)))).one()
        total, moved = int(total), int(moved)
        new_since = int(await session.scalar(select(func.count()).select_from(fresh.subquery())) or 0)
        if show == "new":
            listed = await page(session, fresh, item_sorting(category, False), sort, offset, limit, query,
                                scalars=False)
            listed.items = [item_dict(category, dict(r._mapping)) for r in listed.items]
        else:
            order = item_sorting(category, True, moved_expr).order_by(sort)
            rows = await session.execute(counted.order_by(*order).offset(offset).limit(limit))
            listed = Page([frozen_item_dict(category, dict(r._mapping)) for r in rows], total, offset, limit, sort,
                          dict(query or {}))
    return ItemsView(snap, listed, True, show, moved, new_since)
