"""Team Screens' JSON API: run the batch process, read the latest counts, the snapshots and the items
behind a count."""

from __future__ import annotations

import json
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.tabular import csv_bytes
from agency_common.web.deps import Runtime
from agency_common.web.downloads import attachment
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from reporting.team_screens import queries, usecases
from reporting.team_screens.clock import Clock
from reporting.team_screens.schemas import CalculatedOut, ItemsOut, LatestOut, SnapshotOut

router = APIRouter(prefix="/api", tags=["reporting"])


@router.post("/team-screens/calculate", status_code=201, tags=["team screens"], response_model=CalculatedOut)
async def calculate_team_screens(rt: Runtime, clock: Clock,
                                 user: Annotated[User, require("team_screens:calculate")]) -> dict[str, Any]:
    """Run the Team Screens batch process now (one run at a time across instances: 409 if busy)."""
    result = await usecases.calculate(rt.db, rt.uow, rt.settings, triggered_by=user.login,
                                      clock=clock)
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


@router.get("/team-screens/latest", tags=["team screens"], response_model=LatestOut,
            response_model_exclude_unset=True)
async def latest_team_screens(rt: Runtime, _user: Annotated[User, require("reports:view")],
                              user: str | None = None, group: str | None = None) -> dict[str, Any]:
    """Counts per category and status of the latest snapshot, for a user or a group (or all of them)."""
    scope, assignee = queries.scope_of(user, group)
    snap = await queries.snapshot_or_not_found(rt.db, None)
    rows = await queries.snapshot_counts(rt.db, snap["id"], scope, assignee)
    nested = queries.nest_counts(rows)
    body = snapshot_header(snap)
    if scope is None:
        return body | {"users": nested["user"], "groups": nested["group"]}
    counts = nested[scope].get(assignee or "") or queries.zero_counts()
    links = queries.item_links(snap["id"], scope, assignee or "")
    return body | {"scope": scope, "assignee": assignee, "counts": counts, "items": links}


@router.get("/team-screens/snapshots", tags=["team screens"], response_model=list[SnapshotOut])
async def list_snapshots(rt: Runtime, _user: Annotated[User, require("reports:view")],
                         limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    return [snapshot_header(s) | {"duration_ms": s["duration_ms"]} for s in await queries.list_snapshots(rt.db, limit)]


@router.get("/team-screens/{snapshot_id}/items", tags=["team screens"], response_model=ItemsOut)
async def team_screen_items(rt: Runtime, snapshot_id: str, _user: Annotated[User, require("reports:view")],
                            category: str, status: str, user: str | None = None, group: str | None = None,
                            limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    """The items behind one count: the status rule with the snapshot's windows, over the items as
    they are now (an item changed since the calculation may have moved)."""
    snap, rows = await queries.snapshot_items(rt.db, snapshot_id, category, status, user, group, limit)
    return snapshot_header(snap) | {"category": category, "status": status, "items": rows}


@router.get("/team-screens/{snapshot_id}/items.csv", tags=["team screens"])
async def team_screen_items_csv(rt: Runtime, snapshot_id: str, _user: Annotated[User, require("reports:view")],
                                category: str, status: str, user: str | None = None,
                                group: str | None = None) -> StreamingResponse:
    _snap, rows = await queries.snapshot_items(rt.db, snapshot_id, category, status, user, group, 5000)
    header = [k for k in (rows[0] if rows else {}) if k != "periods"]
    return StreamingResponse(csv_bytes(header, ([r[k] for k in header] for r in rows)),
                             media_type="text/csv; charset=utf-8",
                             headers=attachment(f"{category}-{status}.csv"))
