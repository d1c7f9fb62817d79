"""The Team Screens batch process in SQL: set-based counts, the single-runner lock, snapshots.

The counts are two statements, one per source table. Each reads its table once, grouping by
(user, group[, job type]) with one ``SUM(CASE WHEN <rule> THEN 1 ELSE 0 END)`` per status, into a
materialised CTE; the same statement then rolls those rows up per user and per group and category
(``UNION ALL``). A covering index in the grouping order lets SQLite aggregate from the index alone
without sorting; PostgreSQL hash-aggregates. Python only reshapes the few aggregate rows that come back. The rules are the
ones in ``reporting.domain.rules``, written once here as SQL expressions and shared with the item
lists behind each count.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agency_common.contracts.reporting import TeamScreensCalculated
from agency_common.db.engine import Database, insert_ignoring_conflicts
from agency_common.db.types import UTCDateTime
from agency_common.logging import get_logger
from agency_common.outbox import UnitOfWork
from agency_common.timeutil import utcnow
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.domain.rules import (
    ACTIVITIES,
    CATEGORY_STATUSES,
    OTHER,
    RENEWALS,
    SUBMISSIONS,
)
from reporting.domain.windows import BusinessCalendar, Windows
from reporting.models import Activity, BatchLock, PolicyJob, TeamScreenCount, TeamScreenSnapshot
from reporting.settings import ReportingSettings

log = get_logger(__name__)

LOCK_NAME = "team-screens"
A = Activity.__table__
J = PolicyJob.__table__
S = TeamScreenSnapshot.__table__
C = TeamScreenCount.__table__

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


class CalculationBusy(Exception):
    """Another run (this instance or another) holds the Team Screens lock."""


# -- the rules as SQL ------------------------------------------------------------------------------
def _ts(value: datetime | ColumnElement[Any]) -> ColumnElement[Any]:
    return value if isinstance(value, ColumnElement) else literal(value, UTCDateTime())


def _between(column: Any, start: Any, end: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), column >= start, column <= end)


def activity_rules(start: datetime, calc: datetime) -> dict[str, ColumnElement[bool]]:
    s, e = _ts(start), _ts(calc)
    is_open = A.c.status == "open"
    return {
        "open": is_open,
        "overdue": and_(is_open, A.c.target_date.is_not(None), A.c.target_date <= s),
        "completed": and_(A.c.status == "completed", _between(A.c.close_date, s, e)),
    }


def job_category_filter(category: str) -> ColumnElement[bool]:
    if category == SUBMISSIONS:
        return J.c.job_type == "submission"
    if category == RENEWALS:
        return J.c.job_type == "renewal"
    return J.c.job_type.not_in(["submission", "renewal"])


def job_rules(start: Any, calc: datetime) -> dict[str, ColumnElement[bool]]:
    """Rules keyed by what they test; ``closed_with_model`` is Bound / Renewed / Approved."""
    s, e = _ts(start), _ts(calc)
    is_open = J.c.close_date.is_(None)
    closed_in_window = _between(J.c.close_date, s, e)
    return {
        "open": is_open,
        "new": and_(is_open, J.c.create_time >= s, J.c.create_time <= e),
        "closed_with_model": and_(J.c.has_model_number.is_(True), closed_in_window),
        "non_renewed": and_(J.c.locked_non_renewed.is_(True), closed_in_window),
        "not_taken": and_(J.c.locked_not_taken.is_(True), closed_in_window),
    }


JOB_STATUS_KEY = {"open": "open", "new": "new", "bound": "closed_with_model", "renewed": "closed_with_model",
                  "approved": "closed_with_model", "non_renewed": "non_renewed", "not_taken": "not_taken"}


def _window_for(category: str, w: Windows) -> datetime:
    return {ACTIVITIES: w.activities, SUBMISSIONS: w.submissions, RENEWALS: w.renewals}.get(category, w.other)


def status_predicate(category: str, status: str, w: Windows) -> ColumnElement[bool]:
    """The rule behind one count, for the item list (the category's own window)."""
    if status not in CATEGORY_STATUSES.get(category, ()):
        raise ValueError(f"no status {status!r} in category {category!r}")
    if category == ACTIVITIES:
        return activity_rules(w.activities, w.calculated_on)[status]
    return and_(job_category_filter(category), job_rules(_window_for(category, w), w.calculated_on)[JOB_STATUS_KEY[status]])


def _counted(expr: ColumnElement[bool], name: str) -> Any:
    return func.sum(case((expr, 1), else_=0)).label(name)


def _rolled_up(pairs: Any, keys: Sequence[str], category: Any) -> Any:
    """Per user and per group ('' for none), and category, from the (user, group[, type]) rows."""
    parts = []
    for scope, col in (("user", pairs.c.u), ("group", pairs.c.g)):
        assignee = func.coalesce(col, "")
        parts.append(
            select(literal(scope).label("scope"), assignee.label("assignee"), category.label("category"),
                   *[cast(func.sum(pairs.c[k]), Integer).label(k) for k in keys])
            .group_by(literal_column("assignee"), literal_column("category"))
        )
    return union_all(*parts)


def activities_count_statement(w: Windows) -> Any:
    rules = activity_rules(w.activities, w.calculated_on)
    # Grouped by the raw columns, in the order of ix_activities_team: read from the index alone,
    # aggregated as it streams by (no sort).
    pairs = (
        select(A.c.assigned_user.label("u"), A.c.assigned_group.label("g"),
               *[_counted(expr, k) for k, expr in rules.items()])
        .group_by(A.c.assigned_user, A.c.assigned_group)
        .cte("activity_pairs")
        .prefix_with("MATERIALIZED")
    )
    return _rolled_up(pairs, list(rules), literal(ACTIVITIES))


def jobs_count_statement(w: Windows) -> Any:
    start = case((J.c.job_type == "submission", _ts(w.submissions)),
                 (J.c.job_type == "renewal", _ts(w.renewals)), else_=_ts(w.other))
    rules = job_rules(start, w.calculated_on)
    pairs = (
        select(J.c.assigned_user.label("u"), J.c.assigned_group.label("g"), J.c.job_type.label("job_type"),
               *[_counted(expr, k) for k, expr in rules.items()])
        .group_by(J.c.assigned_user, J.c.assigned_group, J.c.job_type)
        .cte("job_pairs")
        .prefix_with("MATERIALIZED")
    )
    category = case((pairs.c.job_type == "submission", SUBMISSIONS), (pairs.c.job_type == "renewal", RENEWALS),
                    else_=OTHER)
    return _rolled_up(pairs, list(rules), category)


async def compute_counts(session: AsyncSession, w: Windows) -> list[dict[str, Any]]:
    """Every (scope, assignee, category, status) count for the windows, by two set-based statements."""
    out: list[dict[str, Any]] = []
    for row in (await session.execute(activities_count_statement(w))).mappings():
        for status in CATEGORY_STATUSES[ACTIVITIES]:
            out.append({"scope": row["scope"], "assignee": row["assignee"], "category": ACTIVITIES,
                        "status": status, "count": int(row[status] or 0)})
    for row in (await session.execute(jobs_count_statement(w))).mappings():
        category = row["category"]
        for status in CATEGORY_STATUSES[category]:
            out.append({"scope": row["scope"], "assignee": row["assignee"], "category": category,
                        "status": status, "count": int(row[JOB_STATUS_KEY[status]] or 0)})
    return out


async def plain_group_by_counts(session: AsyncSession) -> int:
    """The baseline the benchmark compares with: a plain count per user over the same tables."""
    n = 0
    for table in (A, J):
        rows = await session.execute(select(table.c.assigned_user, func.count()).group_by(table.c.assigned_user))
        n += len(rows.all())
    return n


# -- the lock ----------------------------------------------------------------------------------------
async def try_lock(db: Database, holder: str, lease: timedelta, name: str = LOCK_NAME) -> bool:
    """Take the named lock if nobody holds an unexpired lease on it. One row per lock: on SQLite the
    write transaction serialises takers; on PostgreSQL the row lock does (the losing UPDATE re-checks
    its WHERE after the winner commits, and a racing INSERT waits on the primary key)."""
    now = utcnow()
    t = BatchLock.__table__
    async with db.transaction() as session:
        taken = await session.execute(
            update(t).where(t.c.name == name, t.c.lease_until < now)
            .values(holder=holder, lease_until=now + lease, acquired_at=now)
        )
        if taken.rowcount == 1:
            return True
        created = await session.execute(
            insert_ignoring_conflicts(session, t).values(name=name, holder=holder, lease_until=now + lease,
                                                         acquired_at=now)
        )
        return created.rowcount == 1


async def release_lock(db: Database, holder: str, name: str = LOCK_NAME) -> None:
    t = BatchLock.__table__
    async with db.transaction() as session:
        await session.execute(update(t).where(t.c.name == name, t.c.holder == holder).values(lease_until=utcnow()))


# -- the batch process -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: str
    calculated_on: datetime
    rows: int
    duration_ms: int


def calendar_of(settings: ReportingSettings) -> BusinessCalendar:
    return BusinessCalendar.of(settings.team_screens_time_zone, settings.team_screens_week_end_weekday,
                               settings.team_screens_week_end_time, settings.team_screens_holidays)


def windows_for(settings: ReportingSettings, calculated_on: datetime) -> Windows:
    return Windows.compute(
        calculated_on, calendar_of(settings),
        activities=settings.team_screens_activities_window,
        submissions=settings.team_screens_submissions_window,
        renewals=settings.team_screens_renewals_window,
        other=settings.team_screens_other_window,
    )


def window_settings(settings: ReportingSettings) -> dict[str, Any]:
    return {
        "time_zone": settings.team_screens_time_zone,
        "activities": settings.team_screens_activities_window,
        "submissions": settings.team_screens_submissions_window,
        "renewals": settings.team_screens_renewals_window,
        "other_transactions": settings.team_screens_other_window,
        "week_end_weekday": settings.team_screens_week_end_weekday,
        "week_end_time": settings.team_screens_week_end_time,
        "holidays": [d.isoformat() for d in settings.team_screens_holidays],
    }


async def calculate(
    db: Database,
    uow: UnitOfWork,
    settings: ReportingSettings,
    *,
    triggered_by: str,
    clock: Callable[[], datetime] = utcnow,
    skip_if_newer_than: timedelta | None = None,
) -> SnapshotResult | None:
    """Run the batch process once, holding the lock. ``CalculationBusy`` when another run holds it;
    ``None`` when ``skip_if_newer_than`` is given and a snapshot that recent exists (the schedule of
    several instances then runs it once)."""
    holder = f"{INSTANCE}:{uuid.uuid4().hex[:8]}"
    if not await try_lock(db, holder, timedelta(seconds=settings.team_screens_lock_lease_seconds)):
        raise CalculationBusy("a Team Screens calculation is already running")
    try:
        if skip_if_newer_than is not None:
            latest = await latest_snapshot(db)
            if latest is not None and latest["calculated_on"] > clock() - skip_if_newer_than:
                return None
        started = utcnow()
        calculated_on = clock()
        w = windows_for(settings, calculated_on)
        async with db.session() as session:  # a read transaction: ingestion is not held up meanwhile
            if db.dialect == "postgresql":  # both statements see one snapshot (SQLite's read txn does)
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            counts = await compute_counts(session, w)
        snapshot_id = str(uuid.uuid4())
        duration_ms = int((utcnow() - started).total_seconds() * 1000)
        async with uow(actor=triggered_by) as tx:
            await tx.session.execute(insert(S).values(
                id=snapshot_id, calculated_on=w.calculated_on, created_at=utcnow(), triggered_by=triggered_by,
                time_zone=settings.team_screens_time_zone, activities_window_start=w.activities,
                submissions_window_start=w.submissions, renewals_window_start=w.renewals,
                other_window_start=w.other, windows=json.dumps(window_settings(settings)),
                duration_ms=duration_ms, instance=INSTANCE,
            ))
            if counts:
                await tx.session.execute(insert(C), [{"snapshot_id": snapshot_id, **c} for c in counts])
            await prune(tx.session, utcnow() - timedelta(days=settings.team_screens_keep_days))
            await tx.emit(TeamScreensCalculated(
                snapshot_id=snapshot_id, calculated_on=w.calculated_on, created_at=utcnow(), triggered_by=triggered_by,
                count_rows=len(counts), duration_ms=duration_ms,
                window_starts={"activities": w.activities, "submissions": w.submissions,
                               "renewals": w.renewals, "other_transactions": w.other},
            ))
        log.info("team screens calculated", snapshot_id=snapshot_id, rows=len(counts), duration_ms=duration_ms)
        return SnapshotResult(snapshot_id, w.calculated_on, len(counts), duration_ms)
    finally:
        await release_lock(db, holder)


async def prune(session: AsyncSession, older_than: datetime) -> None:
    """Drop snapshots (and their counts) stored before ``older_than``: an hourly schedule would
    otherwise keep 7,700 count rows an hour per 500 users for ever."""
    old = select(S.c.id).where(S.c.created_at < older_than)
    await session.execute(delete(C).where(C.c.snapshot_id.in_(old)))
    await session.execute(delete(S).where(S.c.created_at < older_than))


# -- reading snapshots -------------------------------------------------------------------------------
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


def item_statement(category: str, status: str, w: Windows, scope: str | None, assignee: str | None,
                   limit: int = 500) -> Any:
    predicate = status_predicate(category, status, w)
    table = A if category == ACTIVITIES else J
    stmt = select(table).where(predicate)
    if scope is not None and assignee is not None:
        col = table.c.assigned_user if scope == "user" else table.c.assigned_group
        stmt = stmt.where(or_(col.is_(None), col == "") if assignee == "" else col == assignee)
    order = A.c.activity_id if category == ACTIVITIES else J.c.job_id
    return stmt.order_by(order).limit(limit)
