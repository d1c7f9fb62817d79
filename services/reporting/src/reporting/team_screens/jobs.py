"""The Team Screens batch process on a schedule (a background task of every instance)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from agency_common.logging import get_logger
from agency_common.web import ServiceRuntime

from reporting.settings import ReportingSettings
from reporting.team_screens import usecases

log = get_logger(__name__)


def team_screens_schedule(runtime: ServiceRuntime, clock: Callable[[], datetime]) -> Callable[[], object]:
    """The batch process on a schedule. Every instance runs this loop; the lock lets one run at a
    time, and a run finding a snapshot younger than half the interval does nothing, so several
    instances still produce one snapshot per interval."""
    settings: ReportingSettings = runtime.settings  # type: ignore[assignment]
    interval = settings.team_screens_interval_seconds

    async def team_screens_scheduler() -> None:
        if interval <= 0:
            return
        while True:
            try:
                await usecases.calculate(runtime.db, runtime.uow, settings, triggered_by="schedule", clock=clock,
                                         skip_if_newer_than=timedelta(seconds=interval / 2))
            except usecases.CalculationBusy:
                log.info("team screens already running elsewhere; skipped")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled team screens calculation failed")
            await asyncio.sleep(interval)

    return team_screens_scheduler
