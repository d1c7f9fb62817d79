"""reporting: team screens and operations views over every service's events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from agency_common.contracts.reporting import TeamScreensCalculated
from agency_common.logging import get_logger
from agency_common.timeutil import utcnow
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from reporting import api, consumers, dashboard, teamscreens
from reporting.models import messaging
from reporting.settings import ReportingSettings

HERE = Path(__file__).parent
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
                await teamscreens.calculate(runtime.db, runtime.uow, settings, triggered_by="schedule", clock=clock,
                                            skip_if_newer_than=timedelta(seconds=interval / 2))
            except teamscreens.CalculationBusy:
                log.info("team screens already running elsewhere; skipped")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled team screens calculation failed")
            await asyncio.sleep(interval)

    return team_screens_scheduler


def create_app(settings: ReportingSettings | None = None, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    settings = settings or ReportingSettings()
    teamscreens.windows_for(settings, utcnow())  # refuse bad window settings at start-up
    runtime = ServiceRuntime(settings, messaging, title="Reporting", templates_dir=HERE / "templates",
                             nav=[("Team screens", "/team-screens"), *dashboard.OPERATIONS_NAV])
    runtime.publishes(TeamScreensCalculated)
    consumers.subscribe(runtime.consumer, settings)
    runtime.background(team_screens_schedule(runtime, clock))
    app = runtime.create_app(api.router, dashboard.router)
    app.state.clock = clock
    return app
