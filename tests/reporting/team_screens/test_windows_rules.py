"""Team Screens windows: pure functions of the calculation time (seed 004, DOMAIN-FACTS 1.7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from reporting.team_screens.domain.windows import BusinessCalendar, Windows, window_start

CHI = ZoneInfo("America/Chicago")
CAL = BusinessCalendar.of("America/Chicago", 4, "17:00")
SECOND = timedelta(seconds=1)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHI)


def test_seed_worked_example_july_11_10_54_a_friday() -> None:
    calc = local(2025, 7, 11, 10, 54)
    assert calc.weekday() == 4
    w = Windows.compute(calc, CAL)
    assert w.calculated_on == calc.astimezone(UTC)
    assert w.activities == local(2025, 7, 10, 10, 54)  # one day: July 10 10:54 a.m.
    assert w.submissions == local(2025, 7, 4, 17, 0)  # this week: Friday July 4 5:00 p.m.
    assert w.other == local(2025, 7, 4, 17, 0)
    assert w.renewals == local(2025, 7, 1, 0, 0)  # this month: July 1 12:00 a.m.
    assert w.submissions.tzinfo == UTC


@pytest.mark.parametrize(("calc", "start"), [
    (local(2025, 7, 11, 16, 59, 59), local(2025, 7, 4, 17, 0)),  # just before the week ends
    (local(2025, 7, 11, 17, 0), local(2025, 7, 11, 17, 0)),  # at: a new week starts now
    (local(2025, 7, 11, 17, 0, 1), local(2025, 7, 11, 17, 0)),  # just after
    (local(2025, 7, 12, 9, 0), local(2025, 7, 11, 17, 0)),  # Saturday
    (local(2025, 7, 14, 9, 0), local(2025, 7, 11, 17, 0)),  # Monday
    (local(2025, 7, 31, 23, 0), local(2025, 7, 25, 17, 0)),  # a week across the month end
    (local(2025, 8, 1, 12, 0), local(2025, 7, 25, 17, 0)),
])
def test_this_week_starts_at_the_end_of_the_last_business_week(calc: datetime, start: datetime) -> None:
    assert window_start("this_week", calc, CAL) == start


def test_week_end_is_a_setting() -> None:
    thursday_noon = BusinessCalendar.of("America/Chicago", 3, "12:00")
    assert window_start("this_week", local(2025, 7, 11, 10, 54), thursday_noon) == local(2025, 7, 10, 12, 0)


def test_a_holiday_week_end_falls_back_to_the_last_business_day() -> None:
    july4 = BusinessCalendar.of("America/Chicago", 4, "17:00", [date(2025, 7, 4)])
    assert window_start("this_week", local(2025, 7, 11, 10, 54), july4) == local(2025, 7, 3, 17, 0)
    # On the holiday itself the week already ended the day before at 5 p.m.
    assert window_start("this_week", local(2025, 7, 4, 9, 0), july4) == local(2025, 7, 3, 17, 0)
    assert window_start("this_week", local(2025, 7, 3, 16, 59), july4) == local(2025, 6, 27, 17, 0)


@pytest.mark.parametrize(("calc", "start"), [
    (local(2025, 6, 30, 23, 59, 59), local(2025, 6, 1)),  # just before the month ends
    (local(2025, 7, 1, 0, 0), local(2025, 7, 1)),  # at
    (local(2025, 7, 1, 0, 0, 1), local(2025, 7, 1)),  # just after
    (local(2025, 12, 31, 23, 0), local(2025, 12, 1)),
    (local(2026, 1, 1, 0, 30), local(2026, 1, 1)),  # across a year end
])
def test_this_month_starts_on_the_first_at_midnight_local(calc: datetime, start: datetime) -> None:
    assert window_start("this_month", calc, CAL) == start


def test_daylight_saving_changes_keep_local_boundaries() -> None:
    # 2025-03-09 02:00 CST → CDT. The week started Friday March 7 17:00 CST (23:00 UTC).
    start = window_start("this_week", local(2025, 3, 10, 9, 0), CAL)
    assert start == datetime(2025, 3, 7, 23, 0, tzinfo=UTC)
    # March began in CST (06:00 UTC) although the calculation is in CDT.
    assert window_start("this_month", local(2025, 3, 20, 9, 0), CAL) == datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    # November began in CDT (05:00 UTC), the calculation after the change is in CST.
    assert window_start("this_month", local(2025, 11, 20, 9, 0), CAL) == datetime(2025, 11, 1, 5, 0, tzinfo=UTC)
    # The week across the fall-back change: Friday Oct 31 17:00 CDT = 22:00 UTC.
    assert window_start("this_week", local(2025, 11, 3, 9, 0), CAL) == datetime(2025, 10, 31, 22, 0, tzinfo=UTC)


def test_a_day_window_is_24_hours_back_even_across_a_dst_change() -> None:
    calc = local(2025, 3, 9, 10, 54)  # CDT, the morning after the change
    start = window_start("1d", calc, CAL)
    assert calc - start == timedelta(hours=24)
    assert start.astimezone(CHI).hour == 9  # 9:54 CST: the clock moved, the 24 hours did not
    assert window_start("7d", calc, CAL) == calc.astimezone(UTC) - timedelta(days=7)


def test_time_zone_is_a_setting() -> None:
    ny = BusinessCalendar.of("America/New_York", 4, "17:00")
    calc = datetime(2025, 7, 11, 15, 54, tzinfo=UTC)
    assert window_start("this_week", calc, ny) == datetime(2025, 7, 4, 21, 0, tzinfo=UTC)
    assert window_start("this_week", calc, CAL) == datetime(2025, 7, 4, 22, 0, tzinfo=UTC)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        window_start("fortnight", local(2025, 7, 11), CAL)
    with pytest.raises(ValueError):
        window_start("1d", datetime(2025, 7, 11), CAL)
    with pytest.raises(ZoneInfoNotFoundError):
        BusinessCalendar.of("Mars/Olympus", 4, "17:00")
