"""intake: carrier statements, the book of business, Create-Policies sessions, sales records."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from agency_common.contracts.intake import PolicyCreated, PolicyUpdated
from agency_common.web import ServiceRuntime
from intake import api, dashboard
from intake.models import messaging
from intake.settings import IntakeSettings

HERE = Path(__file__).parent


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        settings, messaging, title="Intake", templates_dir=HERE / "templates",
        nav=[("Book of business", "/")],
    )
    runtime.publishes(PolicyCreated, PolicyUpdated)
    return runtime.create_app(api.router, dashboard.router)
