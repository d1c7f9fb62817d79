"""appointments: producers, licenses, the eligibility engine, batches for the NIPR gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from agency_common.contracts.appointments import (
    LicenseSyncRequested,
    PortalInviteRequested,
    TransactionBatchSubmitted,
    TransactionStatusChanged,
    TransactionStatusesChanged,
)
from agency_common.logging import get_logger
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from appointments import consumers
from appointments.batches import api as batches_api
from appointments.batches import dashboard as batches_pages
from appointments.bulk_appoint import api as bulk_appoint_api
from appointments.bulk_appoint import dashboard as bulk_appoint_pages
from appointments.bulk_appoint import jobs
from appointments.models import messaging
from appointments.portals import api as portals_api
from appointments.producers import api as producers_api
from appointments.producers import dashboard as producers_pages
from appointments.producers.license_sync import producers_due_for_sync, request_license_sync
from appointments.reference_data import api as reference_data_api
from appointments.reference_data import dashboard as reference_data_pages
from appointments.reference_data.refdata import load_dev_dataset
from appointments.report import api as report_api
from appointments.report import dashboard as report_pages
from appointments.settings import AppointmentsSettings
from appointments.terminations import api as terminations_api
from appointments.terminations import dashboard as terminations_pages

HERE = Path(__file__).parent
log = get_logger(__name__)


def license_refresher(runtime: ServiceRuntime) -> Any:
    s: AppointmentsSettings = runtime.settings  # type: ignore[assignment]

    async def refresh() -> None:
        """Producers never synced, or synced more than a day ago, are asked for again."""
        while True:
            await asyncio.sleep(s.license_sync_check_seconds)
            with contextlib.suppress(Exception):
                async with runtime.db.session() as session:
                    due = await producers_due_for_sync(session, timedelta(seconds=s.license_refresh_seconds),
                                                       timedelta(seconds=s.license_sync_retry_seconds))
                if due:
                    async with runtime.uow(actor="license-refresh") as tx:
                        await request_license_sync(tx, due)
                    log.info("license refresh requested", producers=len(due))

    return refresh


def create_app(settings: AppointmentsSettings | None = None) -> FastAPI:
    settings = settings or AppointmentsSettings()
    runtime = ServiceRuntime(settings, messaging, title="Appointments", templates_dir=HERE / "templates",
                             nav=[("Batches", "/"), ("Transactions", "/transactions"), ("Producers", "/producers"), ("Onboard", "/onboarding"),
                                  ("Appoint", "/appoint"), ("Appointments report", "/report"),
                                  ("Terminate", "/terminations"), ("Manual tasks", "/tasks"),
                                  ("Reference data", "/reference")])
    runtime.publishes(TransactionBatchSubmitted, TransactionStatusChanged, TransactionStatusesChanged, LicenseSyncRequested,
                      PortalInviteRequested)
    consumers.subscribe(runtime.consumer, runtime)
    runtime.background(license_refresher(runtime))
    jobs.register(runtime)
    # the routes in today's order (JSON, then pages): batches, bulk appoint, report, producers and
    # onboarding, terminations and manual tasks, reference data, portals
    app = runtime.create_app(batches_api.router, bulk_appoint_api.router, report_api.router, producers_api.router,
                             terminations_api.router, reference_data_api.router, portals_api.router,
                             batches_pages.router, producers_pages.router, bulk_appoint_pages.router,
                             report_pages.router, terminations_pages.router, reference_data_pages.router)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            if settings.load_dev_reference_data and settings.environment == "development":
                try:
                    if await load_dev_dataset(runtime):
                        log.info("dev reference dataset loaded")
                except Exception:
                    log.exception("dev reference dataset not loaded")
            yield state

    app.router.lifespan_context = lifespan
    return app
