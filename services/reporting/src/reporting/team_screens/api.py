"""Team Screens' JSON API: run the batch process, read the latest counts, the snapshots and the items
behind a count."""

from __future__ import annotations

import json
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from agency_common.auth import User, require
from agency_common.errors import Invalid
from agency_common.tabular import csv_bytes
from agency_common.web.deps import Offset, Runtime
from agency_common.web.downloads import attachment
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from reporting.team_screens import queries, usecases
from reporting.team_screens.clock import Clock
from reporting.team_screens.domain import local_time
from reporting.team_screens.schemas import (
    CalculatedOut,
    ItemsOut,
    LatestOut,
    SnapshotOut,
    WindowOut,
    WindowsIn,
)

router = APIRouter(prefix="/api", tags=["reporting"])
CSV_ROWS = 200_000  # every item of a count (a snapshot holds about 100,000)


def user_zone(tz: str | None, settings: Any) -> ZoneInfo:
    try:
        return local_time.zone(tz, settings.team_screens_time_zone)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


@router.post("/team-screens/calculate", status_code=201, tags=["team screens"], response_model=CalculatedOut)
async def calculate_team_screens(rt: Runtime, clock: Clock,
                                 user: Annotated[User, require("team_screens:calculate")],
                                 as_of: Annotated[str | None, Query(description=(
                                     "a past time to compute the snapshot at (ISO; without an offset it is "
                                     "read in tz)"))] = None,
                                 tz: str | None = None) -> dict[str, Any]:
    """Run the Team Screens batch process now, or ``as_of`` a past time (one run at a time across
    instances: 409 if busy). An "as of" snapshot is not the latest one; ``limits`` says what it could
    not reconstruct."""
    moment = None
    if as_of is not None:
        try:
            moment = local_time.parse_moment(as_of, user_zone(tz, rt.settings))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    result = await usecases.calculate(rt.db, rt.uow, rt.settings, triggered_by=user.login,
                                      clock=clock, as_of=moment)
    assert result is not None
    body = {"snapshot_id": result.snapshot_id, "calculated_on": result.calculated_on.isoformat(),
            "counts": result.rows, "duration_ms": result.duration_ms, "as_of": moment is not None}
    return body | ({"limits": usecases.AS_OF_LIMITS} if moment is not None else {})


@router.get("/team-screens/windows", tags=["team screens"], response_model=list[WindowOut])
async def team_screen_windows(rt: Runtime, _user: Annotated[User, require("reports:view")]) -> list[dict[str, Any]]:
    """Each category's window in effect (``this_week``, ``this_month`` or ``<N>d``), the configured
    setting, and who changed it on the screen."""
    return await usecases.window_table(rt.db, rt.settings)


@router.put("/team-screens/windows", tags=["team screens"], response_model=list[WindowOut])
async def set_team_screen_windows(rt: Runtime, body: WindowsIn,
                                  user: Annotated[User, require("team_screens:configure")]) -> list[dict[str, Any]]:
    """Set the window of the categories given (an empty value goes back to the configured setting);
    the next calculation uses them. An administrator's permission."""
    await usecases.set_windows(rt.uow, body.windows, user.login)
    return await usecases.window_table(rt.db, rt.settings)


def snapshot_header(snapshot: dict[str, Any], tz: ZoneInfo | None = None) -> dict[str, Any]:
    starts = {
        "activities": snapshot["activities_window_start"],
        "submissions": snapshot["submissions_window_start"],
        "renewals": snapshot["renewals_window_start"],
        "other_transactions": snapshot["other_window_start"],
    }
    out = {
        "snapshot_id": snapshot["id"],
        "calculated_on": snapshot["calculated_on"].isoformat(),
        "triggered_by": snapshot["triggered_by"],
        "time_zone": snapshot["time_zone"],
        "window_starts": {k: v.isoformat() for k, v in starts.items()},
        "windows": json.loads(snapshot["windows"] or "{}"),
        "items_stored": bool(snapshot["items_stored"]),
        "as_of": bool(snapshot["as_of"]),
        "changed_after": snapshot["changed_after"] if snapshot["as_of"] else None,
    }
    if tz is not None:
        out["shown_in"] = tz.key
        out["calculated_on_local"] = snapshot["calculated_on"].astimezone(tz).isoformat()
        out["window_starts_local"] = {k: v.astimezone(tz).isoformat() for k, v in starts.items()}
    return out


@router.get("/team-screens/latest", tags=["team screens"], response_model=LatestOut,
            response_model_exclude_unset=True)
async def latest_team_screens(rt: Runtime, _user: Annotated[User, require("reports:view")],
                              user: str | None = None, group: str | None = None,
                              snapshot: str | None = None, tz: str | None = None) -> dict[str, Any]:
    """Counts per category and status of the latest snapshot (or the one named, e.g. an "as of" one),
    for a user or a group (or all of them); ``tz``: times also shown in that zone."""
    zone = user_zone(tz, rt.settings) if tz else None
    scope, assignee = queries.scope_of(user, group)
    snap = await queries.snapshot_or_not_found(rt.db, snapshot)
    rows = await queries.snapshot_counts(rt.db, snap["id"], scope, assignee)
    nested = queries.nest_counts(rows)
    body = snapshot_header(snap, zone)
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
                            limit: Annotated[int, Query(ge=1, le=5000)] = 100, offset: Offset = 0,
                            sort: str = "id", show: str = "counted") -> dict[str, Any]:
    """One page of the items behind one count (``total``, ``offset``, ``limit``, ``sort``): exactly the
    items the snapshot counted, each ``moved`` when it no longer qualifies now; ``moved`` and
    ``new_since`` count those and the items that qualify now but were not counted (``show=new`` lists
    them). A snapshot whose items expired (or predate storing them) re-applies its rule to today's
    items (``frozen`` false)."""
    view = await queries.snapshot_items(rt.db, snapshot_id, category, status, user, group, offset=offset,
                                        limit=limit, sort=sort, show=show)
    return snapshot_header(view.snap) | view.page.api() | {
        "category": category, "status": status, "frozen": view.frozen, "show": view.show,
        "moved": view.moved, "new_since": view.new_since}


@router.get("/team-screens/{snapshot_id}/items.csv", tags=["team screens"])
async def team_screen_items_csv(rt: Runtime, snapshot_id: str, _user: Annotated[User, require("reports:view")],
                                category: str, status: str, user: str | None = None,
                                group: str | None = None, show: str = "counted") -> StreamingResponse:
    view = await queries.snapshot_items(rt.db, snapshot_id, category, status, user, group, limit=CSV_ROWS,
                                        show=show)
    rows = view.page.items
    header = [k for k in (rows[0] if rows else {}) if k != "periods"]
    return StreamingResponse(csv_bytes(header, ([r[k] for k in header] for r in rows)),
                             media_type="text/csv; charset=utf-8",
                             headers=attachment(f"{category}-{status}.csv"))
