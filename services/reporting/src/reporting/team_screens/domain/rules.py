"""The Team Screens status rules of seed 004, exactly as written, as pure functions.

The batch process computes them in SQL (``reporting.team_screens.sql_rules``); these functions are the
readable statement of the same rules, used to derive a job's period facts at ingestion and to
check the SQL against in tests.

Activities (window: one day by default)
  open       activity with open status (no window)
  overdue    open, and target date on or before the window start
  completed  completed status, and close date on or after the window start
Submissions (this week) / Other policy transactions (this week)
  open       the job close date is not set (no window)
  new        close date not set, and create time on or after the window start
  bound / approved   any policy period has a non-null model number, and the close date is on or
             after the window start
Renewals (this month)
  open, new  as above
  renewed    any policy period has a non-null model number, close date on or after the window start
  non_renewed  any policy period is locked with status non-renewed, close date in the window
  not_taken  any policy period is locked with status not taken, close date in the window

Every window runs from its start up to the calculation ("between July 4 5:00 p.m. and calculating
the statistics"): a date after the calculation time is not in the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reporting.team_screens.domain.windows import Windows

ACTIVITIES = "activities"
SUBMISSIONS = "submissions"
RENEWALS = "renewals"
OTHER = "other_transactions"

CATEGORY_STATUSES: dict[str, tuple[str, ...]] = {
    ACTIVITIES: ("open", "overdue", "completed"),
    SUBMISSIONS: ("open", "new", "bound"),
    RENEWALS: ("open", "new", "renewed", "non_renewed", "not_taken"),
    OTHER: ("open", "new", "approved"),
}
CATEGORY_LABELS = {ACTIVITIES: "Activities", SUBMISSIONS: "Submissions", RENEWALS: "Renewals",
                   OTHER: "Other policy transactions"}
STATUS_LABELS = {"open": "Open", "overdue": "Overdue", "completed": "Completed", "new": "New",
                 "bound": "Bound", "renewed": "Renewed", "non_renewed": "Non-Renewed",
                 "not_taken": "Not-Taken", "approved": "Approved"}

OTHER_JOB_TYPES = ("cancellation", "reinstatement", "policy_change", "rewrite", "rewrite_new_account", "audit")


def job_category(job_type: str) -> str:
    if job_type == "submission":
        return SUBMISSIONS
    if job_type == "renewal":
        return RENEWALS
    return OTHER


def normalise_status(value: str | None) -> str:
    """'Non-Renewed', 'non renewed', 'non_renewed' → 'non_renewed'."""
    return "_".join((value or "").strip().lower().replace("-", " ").replace("_", " ").split())


@dataclass(frozen=True)
class PeriodFacts:
    has_model_number: bool
    locked_non_renewed: bool
    locked_not_taken: bool


def period_facts(periods: Iterable[Any]) -> PeriodFacts:
    """What the rules ask of a job's policy periods (objects or dicts with model_number, locked,
    status)."""
    has_model = locked_nr = locked_nt = False
    for p in periods:
        get = p.get if isinstance(p, dict) else lambda k, p=p: getattr(p, k, None)
        if get("model_number") is not None:
            has_model = True
        if get("locked"):
            status = normalise_status(get("status"))
            locked_nr |= status == "non_renewed"
            locked_nt |= status == "not_taken"
    return PeriodFacts(has_model, locked_nr, locked_nt)


def _in_window(value: datetime | None, start: datetime, end: datetime) -> bool:
    return value is not None and start <= value <= end


CLOSED_ACTIVITY_STATUSES = ("completed", "canceled", "skipped")


def activity_statuses(status: str, target_date: datetime | None, close_date: datetime | None,
                      windows: Windows, as_of: bool = False) -> set[str]:
    """``as_of``: the rules at a past calculation over the activity as it is today: closed after that
    time, it was open then (its creation time is not known, so one created later counts too)."""
    start, end = windows.activities, windows.calculated_on
    out: set[str] = set()
    open_then = status == "open" or (as_of and status in CLOSED_ACTIVITY_STATUSES and close_date is not None
                                     and close_date > end)
    if open_then:
        out.add("open")
        if target_date is not None and target_date <= start:
            out.add("overdue")
    if status == "completed" and _in_window(close_date, start, end):
        out.add("completed")
    return out


def job_window_start(category: str, windows: Windows) -> datetime:
    return {SUBMISSIONS: windows.submissions, RENEWALS: windows.renewals}.get(category, windows.other)


def job_statuses(job_type: str, create_time: datetime, close_date: datetime | None, facts: PeriodFacts,
                 windows: Windows, as_of: bool = False) -> tuple[str, set[str]]:
    """``as_of``: at a past calculation, a job created after it did not exist and one closed after it
    was open (its period facts are today's)."""
    category = job_category(job_type)
    start, end = job_window_start(category, windows), windows.calculated_on
    out: set[str] = set()
    open_then = close_date is None
    if as_of:
        open_then = create_time <= end and (close_date is None or close_date > end)
    if open_then:
        out.add("open")
        if _in_window(create_time, start, end):
            out.add("new")
    closed_in_window = _in_window(close_date, start, end)
    if closed_in_window and facts.has_model_number:
        out.add({SUBMISSIONS: "bound", RENEWALS: "renewed"}.get(category, "approved"))
    if category == RENEWALS and closed_in_window:
        if facts.locked_non_renewed:
            out.add("non_renewed")
        if facts.locked_not_taken:
            out.add("not_taken")
    return category, out
