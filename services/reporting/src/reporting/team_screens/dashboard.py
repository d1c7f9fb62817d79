"""Team Screens' pages: the counts per user or group (with bar charts and "Calculate now") and the
items behind each count."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from agency_common.auth import User
from agency_common.errors import Invalid
from agency_common.listing import UnknownSort
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reporting.charts import bar_chart
from reporting.team_screens import queries, usecases
from reporting.team_screens.clock import Clock
from reporting.team_screens.domain import local_time
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


TZ_COOKIE = "team_screens_tz"


def _zone(tz: str | None, default: str, request: Request | None = None) -> tuple[str, str | None]:
    """The zone to show times in (``?tz=``, else the one this browser chose last, else the setting)
    and, for an unknown one, why it was not used (the page still shows)."""
    if not tz and request is not None:
        tz = request.cookies.get(TZ_COOKIE)
    try:
        return local_time.zone(tz, default).key, None
    except ValueError as exc:
        return default, str(exc)


def _remember_zone(response: HTMLResponse, tz: str, default: str) -> HTMLResponse:
    if tz != default:
        response.set_cookie(TZ_COOKIE, tz, max_age=365 * 86400, httponly=True, samesite="lax")
    else:
        response.delete_cookie(TZ_COOKIE)
    return response


@router.get("/team-screens", response_class=HTMLResponse)
async def team_screens_page(request: Request, rt: Runtime, user: Viewer, scope: str = "user",
                            message: str | None = None, tz: str | None = None,
                            snapshot: str | None = None) -> HTMLResponse:
    if scope not in ("user", "group"):
        scope = "user"
    tz, zone_error = _zone(tz, rt.settings.team_screens_time_zone, request)
    snap = await (queries.get_snapshot(rt.db, snapshot) if snapshot else queries.latest_snapshot(rt.db))
    if snapshot and snap is None:
        message = "No such snapshot: showing the latest."
        snap = await queries.latest_snapshot(rt.db)
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
    return _remember_zone(render(request, "team_screens.html", snap=snap, scope=scope, table=table, charts=charts,
                  categories=CATEGORY_STATUSES, category_labels=CATEGORY_LABELS, status_labels=STATUS_LABELS,
                  calculated_on=_local(snap["calculated_on"], tz) if snap else None, windows=windows,
                  can_calculate=user.can("team_screens:calculate"),
                  can_configure=user.can("team_screens:configure"),
                  window_rows=await usecases.window_table(rt.db, rt.settings),
                  message=message or zone_error, tz=tz, zones=COMMON_ZONES, as_of_limits=usecases.AS_OF_LIMITS,
                  link_query=urlencode({"tz": tz}), snapshots=await queries.list_snapshots(rt.db, 20),
                  local=lambda v: _local(v, tz)), tz, rt.settings.team_screens_time_zone)


@router.post("/team-screens/windows")
async def set_windows_from_page(request: Request, rt: Runtime,
                                user: Annotated[User, page_permission("team_screens:configure")]) -> Response:
    form = await request.form()
    wanted = {c: str(form.get(c) or "") for c in usecases.WINDOW_SETTING if c in form}
    back = {"tz": str(form.get("tz") or "")}
    try:
        await usecases.set_windows(rt.uow, wanted, user.login)
    except Invalid as exc:
        return RedirectResponse("/team-screens?" + urlencode(back | {"message": f"Windows not changed: {exc}."}),
                                status_code=303)
    return RedirectResponse("/team-screens?" + urlencode(back | {"message": "Windows saved: the next calculation "
                                                                            "uses them."}), status_code=303)


COMMON_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                "America/Anchorage", "Pacific/Honolulu", "UTC", "Europe/London")


@router.post("/team-screens/calculate")
async def calculate_from_page(request: Request, rt: Runtime, clock: Clock,
                              user: Annotated[User, page_permission("team_screens:calculate")]) -> Response:
    form = await request.form()
    as_of_text, tz_text = str(form.get("as_of") or "").strip(), str(form.get("tz") or "")
    back = {"tz": tz_text} if tz_text else {}
    try:
        zone = local_time.zone(tz_text, rt.settings.team_screens_time_zone)
        moment = local_time.parse_moment(as_of_text, zone) if as_of_text else None
        result = await usecases.calculate(rt.db, rt.uow, rt.settings, triggered_by=user.login, clock=clock,
                                          as_of=moment)
    except usecases.CalculationBusy:
        return RedirectResponse("/team-screens?" + urlencode(back | {"message": "A calculation is already running."}),
                                status_code=303)
    except (ValueError, usecases.AsOfRefused) as exc:
        return RedirectResponse("/team-screens?" + urlencode(back | {"message": f"Not calculated: {exc}."}),
                                status_code=303)
    if moment is not None and result is not None:
        back["snapshot"] = result.snapshot_id
    return RedirectResponse("/team-screens?" + urlencode(back), status_code=303)


ITEM_LABELS = {"moved": "Moved", "job_id": "Job", "activity_id": "Activity", "job_type": "Job type", "subject": "Subject",
               "assigned_user": "User", "assigned_group": "Group", "status": "Status", "create_time": "Created",
               "target_date": "Target date", "close_date": "Closed", "has_model_number": "Has model number",
               "locked_non_renewed": "Locked non-renewed", "locked_not_taken": "Locked not-taken",
               "periods": "Policy periods"}


HIDDEN_COLUMNS = ("version", "updated_at", "counted_user", "counted_group")  # the page's title names who


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    first = next(iter(rows), None)
    return [k for k in (first or {}) if k not in HIDDEN_COLUMNS]


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
                                 status: str, group: str | None = None, offset: Offset = 0,
                                 limit: Annotated[int, Query(ge=1, le=1000)] = 100, sort: str = "id",
                                 show: str = "counted", tz: str | None = None) -> HTMLResponse:
    login = request.query_params.get("user")
    tz, zone_error = _zone(tz, rt.settings.team_screens_time_zone, request)
    query = {"category": category, "status": status} | ({"user": login} if login is not None else {}) | (
        {"group": group} if group is not None else {})
    sorting_ok = sort if sort.removeprefix("-") in SORT_NAMES else "id"
    show = show if show in queries.SHOWS else "counted"
    keep = query | {"snapshot": snapshot, "show": show, "tz": tz}
    try:
        view = await queries.snapshot_items(rt.db, snapshot, category, status, login, group, offset=offset,
                                            limit=limit, sort=sorting_ok, show=show, query=keep)
    except UnknownSort:  # "moved" on a snapshot whose items expired: a page never fails on its sort
        view = await queries.snapshot_items(rt.db, snapshot, category, status, login, group, offset=offset,
                                            limit=limit, show=show, query=keep)
    snap, rows = view.snap, view.page.items
    csv_url = f"/api/team-screens/{snap['id']}/items.csv?" + urlencode(query | {"show": view.show})
    columns = _columns(rows)
    shown = [[("moved" if row[c] else "") if c == "moved" else _item_cell(row[c], tz) for c in columns]
             for row in rows]
    here = {"snapshot": snap["id"], "tz": tz} | query
    return render(request, "team_screen_items.html", snap=snap, rows=shown, moved=[r.get("moved") for r in rows],
                  columns=columns, csv_url=csv_url, labels=ITEM_LABELS, time_zone=ZoneInfo(tz).key, page=view.page,
                  view=view, sortable=SORT_KEYS, error=zone_error,
                  counted_url="/team-screens/items?" + urlencode(here | {"show": "counted"}),
                  new_url="/team-screens/items?" + urlencode(here | {"show": "new"}),
                  back_url="/team-screens?" + urlencode({"tz": tz, "snapshot": snap["id"]}),
                  category=CATEGORY_LABELS.get(category, category), status=STATUS_LABELS.get(status, status),
                  who=("user " + login) if login is not None else ("group " + group) if group is not None else "everyone",
                  calculated_on=_local(snap["calculated_on"], tz))


# The column each sortable header sorts by (queries.item_sorting's names).
SORT_KEYS = {"job_id": "id", "activity_id": "id", "moved": "moved", "subject": "subject", "status": "status",
             "target_date": "target_date", "close_date": "close_date", "job_type": "job_type",
             "create_time": "create_time", "assigned_user": "user", "assigned_group": "group"}
SORT_NAMES = set(SORT_KEYS.values())
