"""Team Screens windows (seed 004, DOMAIN-FACTS 1.7): pure functions of the calculation time.

- ``this_week``: from the end of the last business week (by default Friday 17:00 local time; when
  that day is a holiday, the last business day before it at the same time) to the calculation.
- ``this_month``: from the 1st of the month 00:00 local time to the calculation.
- ``<N>d``: N × 24 hours back from the calculation (a rolling window: July 11 10:54 → July 10 10:54).

Local times are turned into UTC with the configured time zone, so a week or month spanning a
daylight-saving change starts at the right instant. Windows include both ends: "on or after the
window start" and up to "calculating the statistics".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WINDOW_PATTERN = re.compile(r"^(this_week|this_month|(\d+)d)$")


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str = "America/Chicago"
    week_end_weekday: int = 4  # Friday
    week_end_time: time = time(17, 0)
    holidays: frozenset[date] = frozenset()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @classmethod
    def of(cls, time_zone: str, week_end_weekday: int, week_end_time: str,
           holidays: Iterable[date] = ()) -> BusinessCalendar:
        hh, mm = week_end_time.split(":")
        ZoneInfo(time_zone)  # fail early on an unknown zone
        return cls(time_zone, week_end_weekday, time(int(hh), int(mm)), frozenset(holidays))

    def _last_business_day(self, day: date) -> date:
        while day in self.holidays or day.weekday() >= 5 and self.week_end_weekday < 5:
            day -= timedelta(days=1)
        return day

    def business_week_start(self, calculated_on: datetime) -> datetime:
        """The end of the last business week at or before ``calculated_on`` (UTC)."""
        local = calculated_on.astimezone(self.tz)
        # The nominal week end on or after today; a holiday may move it earlier, so step back a
        # week at a time until the (adjusted) end is not after the calculation.
        nominal = local.date() + timedelta(days=(self.week_end_weekday - local.date().weekday()) % 7)
        for _ in range(4):
            end = datetime.combine(self._last_business_day(nominal), self.week_end_time, tzinfo=self.tz)
            if end <= local:
                return end.astimezone(UTC)
            nominal -= timedelta(days=7)
        raise AssertionError("no business week end within four weeks")  # pragma: no cover

    def month_start(self, calculated_on: datetime) -> datetime:
        local = calculated_on.astimezone(self.tz)
        return datetime.combine(local.date().replace(day=1), time(0, 0), tzinfo=self.tz).astimezone(UTC)


def validate_window(spec: str) -> str:
    if not WINDOW_PATTERN.match(spec):
        raise ValueError(f"unknown window {spec!r}: use this_week, this_month or <N>d")
    return spec


def window_start(spec: str, calculated_on: datetime, calendar: BusinessCalendar) -> datetime:
    """The start of a window ending at ``calculated_on`` (aware; returned in UTC)."""
    if calculated_on.tzinfo is None:
        raise ValueError("calculated_on must carry a time zone")
    m = WINDOW_PATTERN.match(spec)
    if not m:
        raise ValueError(f"unknown window {spec!r}: use this_week, this_month or <N>d")
    if spec == "this_week":
        return calendar.business_week_start(calculated_on)
    if spec == "this_month":
        return calendar.month_start(calculated_on)
    # Absolute hours (in UTC): wall-clock arithmetic in a local zone would stretch a DST day.
    return calculated_on.astimezone(UTC) - timedelta(hours=24 * int(m.group(2)))


@dataclass(frozen=True)
class Windows:
    """The window start of each category for one calculation."""

    calculated_on: datetime
    activities: datetime
    submissions: datetime
    renewals: datetime
    other: datetime

    @classmethod
    def compute(cls, calculated_on: datetime, calendar: BusinessCalendar, *, activities: str = "1d",
                submissions: str = "this_week", renewals: str = "this_month", other: str = "this_week") -> Windows:
        calc = calculated_on.astimezone(UTC)
        return cls(
            calculated_on=calc,
            activities=window_start(activities, calc, calendar),
            submissions=window_start(submissions, calc, calendar),
            renewals=window_start(renewals, calc, calendar),
            other=window_start(other, calc, calendar),
        )
