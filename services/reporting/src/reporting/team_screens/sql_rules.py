"""The Team Screens rules in SQL: the set-based counts of the batch process and the items behind a count.

The counts are two statements, one per source table. Each reads its table once, grouping by
(user, group[, job type]) with one ``SUM(CASE WHEN <rule> THEN 1 ELSE 0 END)`` per status, into a
materialised CTE; the same statement then rolls those rows up per user and per group and category
(``UNION ALL``). A covering index in the grouping order lets SQLite aggregate from the index alone
without sorting; PostgreSQL hash-aggregates. Python only reshapes the few aggregate rows that come back. The rules are the
ones in ``reporting.team_screens.domain.rules``, written once here as SQL expressions and shared with the item
lists behind each count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agency_common.db.types import UTCDateTime
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.models import Activity, PolicyJob, TeamScreenCount, TeamScreenItem
from reporting.team_screens.domain.rules import (
    ACTIVITIES,
    CATEGORY_STATUSES,
    CLOSED_ACTIVITY_STATUSES,
    OTHER,
    RENEWALS,
    SUBMISSIONS,
)
from reporting.team_screens.domain.windows import Windows

A = Activity.__table__
J = PolicyJob.__table__
TI = TeamScreenItem.__table__
TC = TeamScreenCount.__table__


# -- the rules as SQL ------------------------------------------------------------------------------
def _ts(value: datetime | ColumnElement[Any]) -> ColumnElement[Any]:
    return value if isinstance(value, ColumnElement) else literal(value, UTCDateTime())


def _between(column: Any, start: Any, end: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), column >= start, column <= end)


def activity_rules(start: datetime, calc: datetime, as_of: bool = False) -> dict[str, ColumnElement[bool]]:
    """``as_of``: the rules at a past ``calc`` over today's rows: an activity closed after it was
    still open then (one created after it cannot be told apart: the read model has no creation time)."""
    s, e = _ts(start), _ts(calc)
    is_open: ColumnElement[bool] = A.c.status == "open"
    if as_of:
        is_open = or_(is_open, and_(A.c.status.in_(CLOSED_ACTIVITY_STATUSES),
                                    A.c.close_date.is_not(None), A.c.close_date > e))
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


def job_rules(start: Any, calc: datetime, as_of: bool = False) -> dict[str, ColumnElement[bool]]:
    """Rules keyed by what they test; ``closed_with_model`` is Bound / Renewed / Approved. ``as_of``:
    at a past ``calc``, a job created after it did not exist and one closed after it was open."""
    s, e = _ts(start), _ts(calc)
    is_open: ColumnElement[bool] = J.c.close_date.is_(None)
    if as_of:
        is_open = and_(J.c.create_time <= e, or_(J.c.close_date.is_(None), J.c.close_date > e))
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


def status_predicate(category: str, status: str, w: Windows, as_of: bool = False) -> ColumnElement[bool]:
    """The rule behind one count, for the item list (the category's own window)."""
    if category not in CATEGORY_STATUSES:
        raise ValueError(f"no category {category!r}: use one of {', '.join(CATEGORY_STATUSES)}")
    if status not in CATEGORY_STATUSES[category]:
        raise ValueError(f"no status {status!r} in category {category!r}: use one of "
                         f"{', '.join(CATEGORY_STATUSES[category])}")
    if category == ACTIVITIES:
        return activity_rules(w.activities, w.calculated_on, as_of)[status]
    return and_(job_category_filter(category),
                job_rules(_window_for(category, w), w.calculated_on, as_of)[JOB_STATUS_KEY[status]])


def item_selects(snapshot_id: str, w: Windows, as_of: bool = False) -> list[Any]:
    """(snapshot id, category, status, item id, user, group) of every item behind every count: one
    SELECT per status, for one ``INSERT ... SELECT`` (the items never pass through Python)."""
    parts = []
    for category, statuses in CATEGORY_STATUSES.items():
        table, key = source_of(category)
        for status in statuses:
            parts.append(select(literal(snapshot_id, String()), literal_column(f"'{category}'"),
                                literal_column(f"'{status}'"), key, func.coalesce(table.c.assigned_user, ""),
                                func.coalesce(table.c.assigned_group, ""))
                         .where(status_predicate(category, status, w, as_of)))
    return parts


def insert_items_statement(snapshot_id: str, w: Windows, as_of: bool = False) -> Any:
    """One statement (one consistent read on both databases) storing the items of a snapshot."""
    return insert(TI).from_select(["snapshot_id", "category", "status", "item_id", "assigned_user",
                                   "assigned_group"], union_all(*item_selects(snapshot_id, w, as_of)))


def insert_counts_statement(snapshot_id: str) -> Any:
    """The counts of a snapshot from its stored items (so a count is exactly its items), per user and
    per group."""
    parts = []
    for scope, col in (("user", TI.c.assigned_user), ("group", TI.c.assigned_group)):
        parts.append(select(TI.c.snapshot_id, literal_column(f"'{scope}'"), col, TI.c.category, TI.c.status,
                            func.count())
                     .where(TI.c.snapshot_id == snapshot_id)
                     .group_by(TI.c.snapshot_id, col, TI.c.category, TI.c.status))
    return insert(TC).from_select(["snapshot_id", "scope", "assignee", "category", "status", "count"],
                                  union_all(*parts))


def changed_after_statement(snapshot_id: str, moment: datetime) -> Any:
    """How many distinct items a snapshot counted were written to the read model after ``moment``."""
    parts = []
    for category, table, key in ((ACTIVITIES, A, A.c.activity_id), (None, J, J.c.job_id)):
        in_category = TI.c.category == ACTIVITIES if category else TI.c.category != ACTIVITIES
        parts.append(select(TI.c.item_id).distinct().select_from(TI.join(table, key == TI.c.item_id))
                     .where(TI.c.snapshot_id == snapshot_id, in_category, table.c.updated_at > _ts(moment)))
    union = union_all(*parts).subquery()
    return select(func.count()).select_from(union)


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


def item_statement(category: str, status: str, w: Windows, scope: str | None, assignee: str | None,
                   limit: int = 500) -> Any:
    order = A.c.activity_id if category == ACTIVITIES else J.c.job_id
    return live_items(category, status, w, scope, assignee).order_by(order).limit(limit)


def source_of(category: str) -> tuple[Any, Any]:
    """The table a category's items live in and its id column."""
    return (A, A.c.activity_id) if category == ACTIVITIES else (J, J.c.job_id)


def _assigned(col: Any, assignee: str) -> ColumnElement[bool]:
    return or_(col.is_(None), col == "") if assignee == "" else col == assignee


def _live_predicate(category: str, status: str, w: Windows, scope: str | None, assignee: str | None,
                    as_of: bool) -> ColumnElement[bool]:
    table, _key = source_of(category)
    predicate = status_predicate(category, status, w, as_of)
    if scope is not None and assignee is not None:
        predicate = and_(predicate, _assigned(table.c.assigned_user if scope == "user" else table.c.assigned_group,
                                              assignee))
    return predicate


def live_items(category: str, status: str, w: Windows, scope: str | None, assignee: str | None,
               as_of: bool = False) -> Any:
    """The items that qualify now (the rule with the snapshot's windows over today's rows), unordered."""
    table, _key = source_of(category)
    return select(table).where(_live_predicate(category, status, w, scope, assignee, as_of))


def _counted_filter(snapshot_id: str, category: str, status: str, scope: str | None,
                    assignee: str | None) -> list[ColumnElement[bool]]:
    out = [TI.c.snapshot_id == snapshot_id, TI.c.category == category, TI.c.status == status]
    if scope is not None and assignee is not None:
        out.append((TI.c.assigned_user if scope == "user" else TI.c.assigned_group) == assignee)
    return out


def counted_items(snapshot_id: str, category: str, status: str, w: Windows, scope: str | None,
                  assignee: str | None, as_of: bool = False) -> tuple[Any, ColumnElement[bool]]:
    """The items a snapshot's count counted, each with the item as it is now (outer join: it may be
    gone) and ``moved``: it no longer qualifies for that count now. Unordered; also the ``moved``
    expression (to sort by)."""
    table, key = source_of(category)
    moved = case((_live_predicate(category, status, w, scope, assignee, as_of), literal(False)),
                 else_=literal(True))
    stmt = (select(TI.c.item_id, moved.label("moved"), TI.c.assigned_user.label("counted_user"),
                   TI.c.assigned_group.label("counted_group"), *[c for c in table.c if c is not key])
            .select_from(TI.outerjoin(table, key == TI.c.item_id))
            .where(*_counted_filter(snapshot_id, category, status, scope, assignee)))
    return stmt, moved


def new_since_items(snapshot_id: str, category: str, status: str, w: Windows, scope: str | None,
                    assignee: str | None, as_of: bool = False) -> Any:
    """The items that qualify for the count now but were not counted by the snapshot, unordered."""
    _table, key = source_of(category)
    counted = select(literal(1)).where(*_counted_filter(snapshot_id, category, status, scope, assignee),
                                       TI.c.item_id == key)
    return live_items(category, status, w, scope, assignee, as_of).where(~exists(counted))
