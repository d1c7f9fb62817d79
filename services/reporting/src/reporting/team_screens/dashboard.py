"""Team Screens' pages: the counts per user or group (with bar charts and "Calculate now") and the
items behind each count."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Runtime
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reporting.charts import bar_chart
from reporting.team_screens import queries, usecases
from reporting.team_screens.clock import Clock
from reporting.team_screens.domain.rules import CATEGORY_LABELS, CATEGORY_STATUSES, STATUS_LABELS

router = APIRouter(include_in_schema=False)
Viewer = Annotated[User, page_permission("reports:view")]


def _local(value: datetime | None, tz: str) -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%a %b %d, %Y %I:%M %p %Z")


@router.get("/")
async def home(_user: Viewer) -> Response:
    return RedirectResponse("/team-screens", status_code=303)


@router.get("/team-screens", response_class=HTMLResponse)
async def team_screens_page(request: Request, rt: Runtime, user: Viewer, scope: str = "user",
                            message: str | None = None) -> HTMLResponse:
    if scope not in ("user", "group"):
        scope = "user"
    snap = await queries.latest_snapshot(rt.db)
    tz = rt.settings.team_screens_time_zone
    table: dict[str, dict[str, dict[str, int]]] = {}
    charts: dict[str, Any] = {}
    if snap is not None:
        table = queries.nest_counts(await queries.snapshot_counts(rt.db, snap["id"], scope))[scope]
        for category in CATEGORY_STATUSES:
            first = CATEGORY_STATUSES[category][0]
            top = sorted(((a or "(unassigned)", c[category][first]) for a, c in table.items()),
                         key=lambda x: (-x[1], x[0]))[:15]
            charts[category] = bar_chart([t for t in top if t[1]], title=f"{CATEGORY_LABELS[category]}: {first}")
    windows = None
    if snap is not None:
        windows = {
            "Activities": _local(snap["activities_window_start"], tz),
            "Submissions": _local(snap["submissions_window_start"], tz),
            "Renewals": _local(snap["renewals_window_start"], tz),
            "Other policy transactions": _local(snap["other_window_start"], tz),
        }
    return render(request, "team_screens.html", snap=snap, scope=scope, table=table, charts=charts,
                  categories=CATEGORY_STATUSES, category_labels=CATEGORY_LABELS, status_labels=STATUS_LABELS,
                  calculated_on=_local(snap["calculated_on"], tz) if snap else None, windows=windows,
                  can_calculate=user.can("team_screens:calculate"),
                  message=message)


@router.post("/team-screens/calculate")
async def calculate_from_page(rt: Runtime, clock: Clock,
                              user: Annotated[User, page_permission("team_screens:calculate")]) -> Response:
    try:
        await usecases.calculate(rt.db, rt.uow, rt.settings, triggered_by=user.login, clock=clock)
    except usecases.CalculationBusy:
        return RedirectResponse("/team-screens?message=A+calculation+is+already+running.", status_code=303)
    return RedirectResponse("/team-screens", status_code=303)


ITEM_LABELS = {"job_id": "Job", "activity_id": "Activity", "job_type": "Job type", "subject": "Subject",
               "assigned_user": "User", "assigned_group": "Group", "status": "Status", "create_time": "Created",
               "target_date": "Target date", "close_date": "Closed", "has_model_number": "Has model number",
               "locked_non_renewed": "Locked non-renewed", "locked_not_taken": "Locked not-taken",
               "periods": "Policy periods"}


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    first = next(iter(rows), None)
    return [k for k in (first or {}) if k not in ("version", "updated_at")]


def _period(p: dict[str, Any]) -> str:
    parts = [f"model {p['model_number']}" if p.get("model_number") is not None else "no model",
             "locked" if p.get("locked") else "unlocked"]
    if p.get("status"):
        parts.append(str(p["status"]).replace("_", " "))
    return ", ".join(parts)


def _item_cell(value: Any, tz: str) -> str:
    """What a person reads: local times, yes/no, one line per policy period (not the stored form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_period(p) if isinstance(p, dict) else str(p) for p in value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(ZoneInfo(tz)).strftime("%b %d, %Y %I:%M %p")
    return str(value)


@router.get("/team-screens/items", response_class=HTMLResponse)
async def team_screen_items_page(request: Request, rt: Runtime, _user: Viewer, snapshot: str, category: str,
                                 status: str, group: str | None = None) -> HTMLResponse:
    login = request.query_params.get("user")
    snap, rows = await queries.snapshot_items(rt.db, snapshot, category, status, login, group, 1000)
    tz = rt.settings.team_screens_time_zone
    query = {"category": category, "status": status} | ({"user": login} if login is not None else {}) | (
        {"group": group} if group is not None else {})
    csv_url = f"/api/team-screens/{snap['id']}/items.csv?" + urlencode(query)
    columns = _columns(rows)
    shown = [[_item_cell(row[c], tz) for c in columns] for row in rows]
    return render(request, "team_screen_items.html", snap=snap, rows=shown, columns=columns, csv_url=csv_url,
                  labels=ITEM_LABELS, time_zone=ZoneInfo(tz).key,
                  category=CATEGORY_LABELS.get(category, category), status=STATUS_LABELS.get(status, status),
                  who=("user " + login) if login is not None else ("group " + group) if group is not None else "everyone",
                  calculated_on=_local(snap["calculated_on"], tz))
