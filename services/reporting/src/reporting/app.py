"""reporting: team screens and operations views over every service's events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from agency_common.contracts.reporting import TeamScreensCalculated
from agency_common.timeutil import utcnow
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from reporting.ingestion import consumers
from reporting.models import messaging
from reporting.operations import api as operations_api
from reporting.operations import dashboard as operations_dashboard
from reporting.settings import ReportingSettings
from reporting.team_screens import api as team_screens_api
from reporting.team_screens import dashboard as team_screens_dashboard
from reporting.team_screens.jobs import team_screens_schedule
from reporting.team_screens.usecases import windows_for

HERE = Path(__file__).parent


def create_app(settings: ReportingSettings | None = None, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    settings = settings or ReportingSettings()
    windows_for(settings, utcnow())  # refuse bad window settings at start-up
    runtime = ServiceRuntime(settings, messaging, title="Reporting", templates_dir=HERE / "templates",
                             nav=[("Team screens", "/team-screens"), *operations_dashboard.OPERATIONS_NAV])
    runtime.publishes(TeamScreensCalculated)
    consumers.subscribe(runtime.consumer, runtime)
    runtime.background(team_screens_schedule(runtime, clock))
    app = runtime.create_app(team_screens_api.router, operations_api.router, team_screens_dashboard.router,
                             operations_dashboard.router)
    app.state.clock = clock
    return app
