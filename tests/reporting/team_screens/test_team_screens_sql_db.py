"""The batch process's SQL against the rules as written (seed 004), on a real database.

The seed's worked examples (calculated July 11 10:54, a Friday) are spelled out; then every status
rule is checked at its window boundaries (just before, at, just after the window start, at and just
after the calculation) for calculations across a month end and both daylight-saving changes: the
set-based SQL must give exactly what the pure rules give item by item.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted, PolicyPeriod
from reporting.ingestion.usecases import activity_row, job_row
from reporting.models import Activity, PolicyJob, TeamScreenCount
from reporting.team_screens.domain.rules import (
    ACTIVITIES,
    CATEGORY_STATUSES,
    activity_statuses,
    job_statuses,
    period_facts,
)
from reporting.team_screens.domain.windows import BusinessCalendar, Windows
from reporting.team_screens.sql_rules import compute_counts, item_statement
from sqlalchemy import insert

CHI = ZoneInfo("America/Chicago")
CAL = BusinessCalendar.of("America/Chicago", 4, "17:00")
S = timedelta(seconds=1)
NOW = datetime(2025, 7, 11, 16, tzinfo=CHI)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHI)


def act(i: str, status: str, target: datetime | None = None, close: datetime | None = None,
        user: str | None = "ann", group: str | None = "underwriting") -> ActivityUpserted:
    return ActivityUpserted(activity_id=i, version=1, subject=f"activity {i}", assigned_user=user,
                            assigned_group=group, status=status, target_date=target, close_date=close)


def job(i: str, job_type: str, create: datetime, close: datetime | None = None, periods: list[PolicyPeriod] = (),
        user: str | None = "ann", group: str | None = "underwriting") -> PolicyJobUpserted:
    return PolicyJobUpserted(job_id=i, version=1, job_type=job_type, assigned_user=user, assigned_group=group,
                             create_time=create, close_date=close, periods=list(periods))


MODEL = PolicyPeriod(model_number=1)
NON_RENEWED = PolicyPeriod(locked=True, status="non-renewed")
NOT_TAKEN = PolicyPeriod(locked=True, status="Not Taken")
UNLOCKED_NR = PolicyPeriod(locked=False, status="non_renewed")


async def load(db: Any, activities: list[ActivityUpserted], jobs: list[PolicyJobUpserted]) -> None:
    async with db.transaction() as session:
        if activities:
            await session.execute(insert(Activity.__table__), [activity_row(a, NOW) for a in activities])
        if jobs:
            await session.execute(insert(PolicyJob.__table__), [job_row(j, NOW) for j in jobs])


async def counts_of(db: Any, w: Windows) -> dict[tuple[str, str, str, str], int]:
    async with db.session() as session:
        return {(r["scope"], r["assignee"], r["category"], r["status"]): r["count"] for r in await compute_counts(session, w)}


SEED_ACTIVITIES = [
    act("a1", "open", target=local(2025, 7, 10, 10, 54)),  # due at the window start: overdue
    act("a2", "open", target=local(2025, 7, 10, 10, 54, 1)),  # due just after: not overdue
    act("a3", "open", target=local(2025, 7, 10, 10, 53, 59)),  # just before: overdue
    act("a4", "completed", close=local(2025, 7, 10, 10, 54)),  # completed at the window start
    act("a5", "completed", close=local(2025, 7, 10, 10, 53, 59)),  # just before the window
    act("a6", "completed", close=local(2025, 7, 11, 10, 54)),  # at the calculation
    act("a7", "completed", close=local(2025, 7, 11, 10, 54, 1)),  # after the calculation
    act("a8", "canceled", close=local(2025, 7, 11, 9, 0)),
    act("a9", "open"),
]
SEED_JOBS = [
    job("s1", "submission", local(2025, 7, 4, 17, 0)),  # created at the week start: new
    job("s2", "submission", local(2025, 7, 4, 16, 59, 59)),  # just before: open only
    job("s3", "submission", local(2025, 7, 4, 17, 0, 1)),
    job("s4", "submission", local(2025, 6, 1), local(2025, 7, 4, 17, 0), [MODEL]),  # bound at the week start
    job("s5", "submission", local(2025, 6, 1), local(2025, 7, 4, 16, 59, 59), [MODEL]),  # bound last week
    job("s6", "submission", local(2025, 6, 1), local(2025, 7, 8), [PolicyPeriod()]),  # closed, never bound
    job("s7", "submission", local(2025, 6, 1), local(2025, 7, 11, 10, 54, 1), [MODEL]),  # after the calculation
    job("r1", "renewal", local(2025, 7, 1), user="bob"),  # created at the month start: new
    job("r2", "renewal", local(2025, 6, 30, 23, 59, 59), user="bob"),
    job("r3", "renewal", local(2025, 5, 1), local(2025, 7, 1), [MODEL], user="bob"),  # renewed
    job("r4", "renewal", local(2025, 5, 1), local(2025, 6, 30, 23, 59, 59), [MODEL], user="bob"),
    job("r5", "renewal", local(2025, 5, 1), local(2025, 7, 2), [NON_RENEWED], user="bob"),
    job("r6", "renewal", local(2025, 5, 1), local(2025, 7, 2), [NOT_TAKEN], user="bob"),
    job("r7", "renewal", local(2025, 5, 1), local(2025, 7, 2), [UNLOCKED_NR], user="bob"),  # not locked
    job("r8", "renewal", local(2025, 5, 1), local(2025, 7, 2), [MODEL, NON_RENEWED], user="bob"),  # any period
    job("o1", "cancellation", local(2025, 7, 7), user="bob", group="service"),
    job("o2", "policy_change", local(2025, 6, 1), local(2025, 7, 4, 17, 0), [MODEL], user="bob", group="service"),
    job("o3", "audit", local(2025, 7, 4, 16, 59, 59), user="bob", group="service"),
    job("o4", "rewrite_new_account", local(2025, 6, 1), local(2025, 7, 10), [MODEL], user="bob", group="service"),
    job("o5", "reinstatement", local(2025, 6, 1), local(2025, 7, 4, 16, 59, 59), [MODEL], user="bob",
        group="service"),
    job("o6", "rewrite", local(2025, 7, 9), user=None, group=None),  # unassigned
]


async def test_seed_worked_examples(reporting_db) -> None:
    await load(reporting_db, SEED_ACTIVITIES, SEED_JOBS)
    w = Windows.compute(local(2025, 7, 11, 10, 54), CAL)
    c = await counts_of(reporting_db, w)

    def of(scope: str, who: str, category: str) -> dict[str, int]:
        return {s: c[(scope, who, category, s)] for s in CATEGORY_STATUSES[category]}

    assert of("user", "ann", "activities") == {"open": 4, "overdue": 2, "completed": 2}
    assert of("user", "ann", "submissions") == {"open": 3, "new": 2, "bound": 1}
    assert of("user", "bob", "renewals") == {"open": 2, "new": 1, "renewed": 2, "non_renewed": 2, "not_taken": 1}
    assert of("user", "bob", "other_transactions") == {"open": 2, "new": 1, "approved": 2}
    assert of("user", "", "other_transactions") == {"open": 1, "new": 1, "approved": 0}
    assert of("group", "underwriting", "submissions") == {"open": 3, "new": 2, "bound": 1}
    assert of("group", "underwriting", "renewals")["renewed"] == 2
    assert of("group", "service", "other_transactions") == {"open": 2, "new": 1, "approved": 2}
    assert ("group", "service", "submissions", "open") not in c  # nothing of that category there

    # The items behind a count are the ones the rule picks.
    async with reporting_db.session() as session:
        overdue = (await session.execute(item_statement(ACTIVITIES, "overdue", w, "user", "ann"))).mappings().all()
        renewed = (await session.execute(item_statement("renewals", "non_renewed", w, "group", "underwriting"))).all()
        unassigned = (await session.execute(item_statement("other_transactions", "open", w, "user", ""))).all()
    assert [r["activity_id"] for r in overdue] == ["a1", "a3"]
    assert sorted(r.job_id for r in renewed) == ["r5", "r8"]
    assert [r.job_id for r in unassigned] == ["o6"]


def boundary_items(w: Windows) -> tuple[list[ActivityUpserted], list[PolicyJobUpserted]]:
    """Items at every boundary of every window: just before, at and just after its start, and at
    and just after the calculation, for each status value and each kind of policy period."""
    users = itertools.cycle([("ann", "underwriting"), ("bob", "underwriting"), ("cy", "service"), (None, None)])

    def times(start: datetime) -> list[datetime | None]:
        return [start - S, start, start + S, w.calculated_on - S, w.calculated_on, w.calculated_on + S, None]

    activities = []
    for n, (status, target, close) in enumerate(itertools.product(
            ["open", "completed", "canceled"], times(w.activities), times(w.activities))):
        u, g = next(users)
        activities.append(act(f"a{n}", status, target, close, u, g))
    jobs = []
    starts = {"submission": w.submissions, "renewal": w.renewals}
    periods = [[], [MODEL], [NON_RENEWED], [NOT_TAKEN], [UNLOCKED_NR], [MODEL, NOT_TAKEN]]
    for n, (job_type, p) in enumerate(itertools.product(
            ["submission", "renewal", "cancellation", "reinstatement", "policy_change", "rewrite",
             "rewrite_new_account", "audit"], range(len(periods)))):
        start = starts.get(job_type, w.other)
        for m, (create, close) in enumerate(itertools.product(times(start)[:-1], times(start))):
            u, g = next(users)
            jobs.append(job(f"j{n}-{m}", job_type, create, close, periods[p], u, g))
    return activities, jobs


def expected_counts(w: Windows, activities: list[ActivityUpserted],
                    jobs: list[PolicyJobUpserted], as_of: bool = False) -> Counter[tuple[str, str, str, str]]:
    out: Counter[tuple[str, str, str, str]] = Counter()
    for a in activities:
        for s in activity_statuses(a.status, a.target_date, a.close_date, w, as_of):
            out[("user", a.assigned_user or "", ACTIVITIES, s)] += 1
            out[("group", a.assigned_group or "", ACTIVITIES, s)] += 1
    for j in jobs:
        category, statuses = job_statuses(j.job_type, j.create_time, j.close_date, period_facts(j.periods), w, as_of)
        for s in statuses:
            out[("user", j.assigned_user or "", category, s)] += 1
            out[("group", j.assigned_group or "", category, s)] += 1
    return out


@pytest.mark.parametrize("calc", [
    local(2025, 7, 11, 10, 54),  # the seed's Friday
    local(2025, 8, 1, 8, 0),  # a week across a month end, on the month's first morning
    local(2025, 3, 9, 10, 54),  # the morning after the spring DST change (1-day window crosses it)
    local(2025, 3, 10, 9, 0),  # a week that began in CST
    local(2025, 11, 3, 9, 0),  # a week and a month across the fall-back change
    local(2025, 7, 11, 17, 0),  # exactly at the business-week end
], ids=["seed-friday", "month-end", "dst-spring-day", "dst-spring-week", "dst-fall", "at-week-end"])
async def test_every_rule_at_its_window_boundaries(reporting_db, calc: datetime) -> None:
    w = Windows.compute(calc, CAL)
    activities, jobs = boundary_items(w)
    await load(reporting_db, activities, jobs)
    actual = {k: v for k, v in (await counts_of(reporting_db, w)).items() if v}
    expected = dict(expected_counts(w, activities, jobs))
    assert actual == expected
    # Each status is hit at least once (the boundaries exercise every rule).
    hit = {(k[2], k[3]) for k in expected}
    assert hit == {(c, s) for c, statuses in CATEGORY_STATUSES.items() for s in statuses}


@pytest.mark.parametrize("as_of", [False, True], ids=["now", "as-of"])
@pytest.mark.parametrize("calc", [local(2025, 7, 11, 10, 54), local(2025, 11, 3, 9, 0)], ids=["seed-friday", "dst-fall"])
async def test_the_stored_items_are_what_the_rules_pick_and_the_counts_count_them(reporting_db, calc: datetime,
                                                                                  as_of: bool) -> None:
    """The ids stored by one INSERT ... SELECT, and the counts counted from them, against the pure
    rules item by item at every window boundary (also the "as of" rules: created after the time, not
    there; closed after it, open then)."""
    from reporting.models import TeamScreenItem
    from reporting.team_screens.sql_rules import insert_counts_statement, insert_items_statement
    from sqlalchemy import select

    w = Windows.compute(calc, CAL)
    activities, jobs = boundary_items(w)
    await load(reporting_db, activities, jobs)
    async with reporting_db.transaction() as session:
        await session.execute(insert_items_statement("s1", w, as_of))
        await session.execute(insert_counts_statement("s1"))
    expected = dict(expected_counts(w, activities, jobs, as_of))
    async with reporting_db.session() as session:
        counts = {(r.scope, r.assignee, r.category, r.status): r.count
                  for r in await session.execute(select(TeamScreenCount.__table__))}
        items = Counter((r.category, r.status) for r in await session.execute(select(TeamScreenItem.__table__)))
    assert counts == expected
    assert items == _summed(expected)  # one stored row per item and status
    assert expected != dict(expected_counts(w, activities, jobs, not as_of))  # the two rule sets differ here


def _summed(expected: dict[tuple[str, str, str, str], int]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for (scope, _assignee, category, status), n in expected.items():
        if scope == "user":
            out[(category, status)] += n
    return out


async def test_a_run_stores_its_snapshot_and_old_snapshots_are_pruned(reporting_db) -> None:
    from agency_common.outbox import UnitOfWork
    from agency_common.timeutil import utcnow
    from reporting.models import messaging
    from reporting.settings import ReportingSettings
    from reporting.team_screens import queries, usecases
    from sqlalchemy import func, select

    await load(reporting_db, SEED_ACTIVITIES, SEED_JOBS)
    settings = ReportingSettings(database_url="sqlite://", team_screens_interval_seconds=0)
    uow = UnitOfWork(reporting_db, messaging, producer="reporting")
    calc = local(2025, 7, 11, 10, 54)
    result = await usecases.calculate(reporting_db, uow, settings, triggered_by="t", clock=lambda: calc)
    snap = await queries.latest_snapshot(reporting_db)
    assert snap["id"] == result.snapshot_id and snap["calculated_on"] == calc
    assert snap["submissions_window_start"] == local(2025, 7, 4, 17, 0)
    rows = await queries.snapshot_counts(reporting_db, result.snapshot_id, "user", "ann")
    assert {(r["category"], r["status"]): r["count"] for r in rows}[("activities", "overdue")] == 2
    async with reporting_db.transaction() as session:
        await usecases.prune(session, utcnow() + timedelta(seconds=1))
    async with reporting_db.session() as session:
        assert (await session.execute(select(func.count()).select_from(queries.C))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(queries.S))).scalar_one() == 0
