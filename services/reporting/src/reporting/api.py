"""reporting's JSON API: Team Screens and the operations views."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from agency_common.auth import CurrentUser, User, require
from agency_common.tabular import csv_bytes
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from reporting import teamscreens
from reporting.domain.rules import ACTIVITIES, CATEGORY_STATUSES
from reporting.models import DeadLetterCount, EventCount
from reporting.operations import VIEWS

router = APIRouter(prefix="/api", tags=["reporting"])


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


# -- Team Screens ---------------------------------------------------------------------------------
@router.post("/team-screens/calculate", status_code=201, tags=["team screens"])
async def calculate_team_screens(request: Request,
                                 user: Annotated[User, require("team_screens:calculate")]) -> dict[str, Any]:
    """Run the Team Screens batch process now (one run at a time across instances: 409 if busy)."""
    rt = _runtime(request)
    try:
        result = await teamscreens.calculate(rt.db, rt.uow, rt.settings, triggered_by=user.login,
                                             clock=request.app.state.clock)
    except teamscreens.CalculationBusy as exc:
        raise HTTPException(409, str(exc)) from None
    assert result is not None
    return {"snapshot_id": result.snapshot_id, "calculated_on": result.calculated_on.isoformat(),
            "counts": result.rows, "duration_ms": result.duration_ms}


def snapshot_header(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot["id"],
        "calculated_on": snapshot["calculated_on"].isoformat(),
        "triggered_by": snapshot["triggered_by"],
        "time_zone": snapshot["time_zone"],
        "window_starts": {
            "activities": snapshot["activities_window_start"].isoformat(),
            "submissions": snapshot["submissions_window_start"].isoformat(),
            "renewals": snapshot["renewals_window_start"].isoformat(),
            "other_transactions": snapshot["other_window_start"].isoformat(),
        },
        "windows": json.loads(snapshot["windows"] or "{}"),
    }


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


def _scope(user: str | None, group: str | None) -> tuple[str | None, str | None]:
    if user is not None and group is not None:
        raise HTTPException(422, "give user or group, not both")
    if user is not None:
        return "user", user
    if group is not None:
        return "group", group
    return None, None


async def _snapshot_or_404(rt: Any, snapshot_id: str | None) -> dict[str, Any]:
    snap = await (teamscreens.get_snapshot(rt.db, snapshot_id) if snapshot_id else teamscreens.latest_snapshot(rt.db))
    if snap is None:
        raise HTTPException(404, "no Team Screens snapshot yet" if not snapshot_id else "no such snapshot")
    return snap


@router.get("/team-screens/latest", tags=["team screens"])
async def latest_team_screens(request: Request, _user: Annotated[User, require("reports:view")],
                              user: str | None = None, group: str | None = None) -> dict[str, Any]:
    """Counts per category and status of the latest snapshot, for a user or a group (or all of them)."""
    rt = _runtime(request)
    scope, assignee = _scope(user, group)
    snap = await _snapshot_or_404(rt, None)
    rows = await teamscreens.snapshot_counts(rt.db, snap["id"], scope, assignee)
    nested = nest_counts(rows)
    body = snapshot_header(snap)
    if scope is None:
        return body | {"users": nested["user"], "groups": nested["group"]}
    counts = nested[scope].get(assignee or "") or {c: dict.fromkeys(st, 0) for c, st in CATEGORY_STATUSES.items()}
    links = {category: {status: _items_url(snap["id"], category, status, scope, assignee or "")
                        for status in statuses} for category, statuses in CATEGORY_STATUSES.items()}
    return body | {"scope": scope, "assignee": assignee, "counts": counts, "items": links}


def _items_url(snapshot_id: str, category: str, status: str, scope: str, assignee: str) -> str:
    from urllib.parse import urlencode

    return f"/api/team-screens/{snapshot_id}/items?" + urlencode(
        {"category": category, "status": status, scope: assignee})


@router.get("/team-screens/snapshots", tags=["team screens"])
async def list_snapshots(request: Request, _user: Annotated[User, require("reports:view")],
                         limit: int = 50) -> list[dict[str, Any]]:
    rt = _runtime(request)
    s = teamscreens.S
    async with rt.db.session() as session:
        rows = (await session.execute(select(s).order_by(s.c.created_at.desc()).limit(min(limit, 500)))).mappings()
        return [snapshot_header(dict(r)) | {"duration_ms": r["duration_ms"]} for r in rows]


def item_dict(category: str, row: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    if category != ACTIVITIES:
        out["periods"] = json.loads(row.get("periods") or "[]")
    return out


async def snapshot_items(rt: Any, snapshot_id: str, category: str, status: str, user: str | None,
                         group: str | None, limit: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    snap = await _snapshot_or_404(rt, snapshot_id)
    scope, assignee = _scope(user, group)
    try:
        stmt = teamscreens.item_statement(category, status, teamscreens.snapshot_windows(snap), scope, assignee,
                                          limit=min(limit, 5000))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    async with rt.db.session() as session:
        rows = [item_dict(category, dict(r)) for r in (await session.execute(stmt)).mappings()]
    return snap, rows


@router.get("/team-screens/{snapshot_id}/items", tags=["team screens"])
async def team_screen_items(request: Request, snapshot_id: str, _user: Annotated[User, require("reports:view")],
                            category: str, status: str, user: str | None = None, group: str | None = None,
                            limit: Annotated[int, Query(le=5000)] = 500) -> dict[str, Any]:
    """The items behind one count: the status rule with the snapshot's windows, over the items as
    they are now (an item changed since the calculation may have moved)."""
    snap, rows = await snapshot_items(_runtime(request), snapshot_id, category, status, user, group, limit)
    return snapshot_header(snap) | {"category": category, "status": status, "items": rows}


@router.get("/team-screens/{snapshot_id}/items.csv", tags=["team screens"])
async def team_screen_items_csv(request: Request, snapshot_id: str, _user: Annotated[User, require("reports:view")],
                                category: str, status: str, user: str | None = None,
                                group: str | None = None) -> StreamingResponse:
    _snap, rows = await snapshot_items(_runtime(request), snapshot_id, category, status, user, group, 5000)
    header = [k for k in (rows[0] if rows else {}) if k != "periods"]
    return StreamingResponse(csv_bytes(header, ([r[k] for k in header] for r in rows)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{category}-{status}.csv"'})


# -- operations -----------------------------------------------------------------------------------
@router.get("/operations/events", tags=["operations"])
async def event_counts(request: Request, _user: CurrentUser) -> list[dict[str, Any]]:
    async with _runtime(request).db.session() as session:
        rows = await session.execute(
            select(EventCount.topic, EventCount.event_type, func.sum(EventCount.count))
            .group_by(EventCount.topic, EventCount.event_type)
            .order_by(EventCount.topic, EventCount.event_type)
        )
        return [{"topic": t, "event_type": e, "count": int(c)} for t, e, c in rows]


@router.get("/operations/dead-letters", tags=["operations"])
async def dead_letter_counts(request: Request, _user: CurrentUser) -> list[dict[str, Any]]:
    async with _runtime(request).db.session() as session:
        rows = (await session.execute(select(DeadLetterCount).order_by(DeadLetterCount.topic))).scalars()
        return [{"topic": r.topic, "count": r.count} for r in rows]


async def build_view(request: Request, view: str) -> Any:
    spec = VIEWS.get(view)
    if spec is None:
        raise HTTPException(404, "no such view")
    async with _runtime(request).db.session() as session:
        return spec, await spec.build(session)


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, int | str | None) else str(v)


@router.get("/operations/views/{view}", tags=["operations"])
async def operations_view(request: Request, view: str,
                          _user: Annotated[User, require("operations:view")]) -> dict[str, Any]:
    spec, sections = await build_view(request, view)
    return {"view": spec.key, "title": spec.title, "sections": [
        {"key": s.key, "title": s.title, "note": s.note,
         "rows": [dict(zip(s.header, map(_jsonable, row), strict=True)) for row in s.rows]} for s in sections]}


@router.get("/operations/views/{view}/{section}.csv", tags=["operations"])
async def operations_csv(request: Request, view: str, section: str,
                         _user: Annotated[User, require("operations:view")]) -> StreamingResponse:
    """A view's section as CSV (cells that a spreadsheet would run as formulas are neutralised)."""
    spec, sections = await build_view(request, view)
    found = next((s for s in sections if s.key == section), None)
    if found is None:
        raise HTTPException(404, "no such section")
    return StreamingResponse(csv_bytes(found.header, found.rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{spec.key}-{found.key}.csv"'})
