from datetime import date

from agency_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", populate_by_name=True)

    service_name: str = "reporting"
    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./data/reporting.db"

    # -- Team Screens (seed 004): windows are "this_week", "this_month" or "<N>d" (N × 24 h back) --
    team_screens_time_zone: str = "America/Chicago"
    team_screens_activities_window: str = "1d"
    team_screens_submissions_window: str = "this_week"
    team_screens_renewals_window: str = "this_month"
    team_screens_other_window: str = "this_week"
    # The business week ends on this weekday (0 = Monday ... 4 = Friday) at this local time; when
    # that day is a holiday it ends on the last business day before it.
    team_screens_week_end_weekday: int = Field(4, ge=0, le=6)
    team_screens_week_end_time: str = "17:00"
    team_screens_holidays: list[date] = Field(default_factory=list)
    # The batch process runs every so many seconds (0: on demand only); Guidewire's default is hourly.
    team_screens_interval_seconds: float = 3600.0
    # Snapshots older than this are deleted by the next run.
    team_screens_keep_days: int = Field(31, ge=1)
    # The ids behind a snapshot's counts (up to one row per item and status: 100,000 items an hour is
    # 2.4 million rows a day) are kept this many days; older snapshots' drill-downs re-query live data.
    team_screens_items_keep_days: int = Field(2, ge=1)
    # How long a running batch holds its lock before another instance may take it over.
    team_screens_lock_lease_seconds: float = 900.0
