"""reporting: team screens and operations views over every service's events."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from agency_common.web import ServiceRuntime
from reporting import api, consumers, dashboard
from reporting.models import messaging
from reporting.settings import ReportingSettings

HERE = Path(__file__).parent


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(settings, messaging, title="Reporting", templates_dir=HERE / "templates",
                             nav=[("Operations", "/")])
    consumers.subscribe(runtime.consumer)
    return runtime.create_app(api.router, dashboard.router)
