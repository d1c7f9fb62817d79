"""appointments: producers, licenses, the eligibility engine, batches for the NIPR gateway."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from agency_common.contracts.appointments import TransactionBatchSubmitted
from agency_common.web import ServiceRuntime
from appointments import api, consumers, dashboard
from appointments.models import messaging
from appointments.settings import AppointmentsSettings

HERE = Path(__file__).parent


def create_app(settings: AppointmentsSettings | None = None) -> FastAPI:
    settings = settings or AppointmentsSettings()
    runtime = ServiceRuntime(settings, messaging, title="Appointments", templates_dir=HERE / "templates",
                             nav=[("Batches", "/")])
    runtime.publishes(TransactionBatchSubmitted)
    consumers.subscribe(runtime.consumer)
    return runtime.create_app(api.router, dashboard.router)
