"""invoicing: direct-bill reconciliation over a read model of intake's policies."""

from __future__ import annotations

from pathlib import Path

from agency_common.contracts.invoicing import InvoicePosted, PaymentRecorded, ReconciliationChanged
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from invoicing import api, consumers, dashboard
from invoicing.models import messaging
from invoicing.policy_view import api as carriers
from invoicing.settings import InvoicingSettings
from invoicing.stages import jobs

HERE = Path(__file__).parent


def create_app(settings: InvoicingSettings | None = None) -> FastAPI:
    settings = settings or InvoicingSettings()
    runtime = ServiceRuntime(settings, messaging, title="Invoicing", templates_dir=HERE / "templates",
                             nav=[("Home", "/"), ("Reconciliations", "/reconciliations"),
                                  ("People commission defaults", "/people-defaults")])
    consumers.subscribe(runtime.consumer, settings.business_timezone)
    runtime.publishes(InvoicePosted, PaymentRecorded, ReconciliationChanged)
    jobs.register(runtime)
    return runtime.create_app(api.router, carriers.router, dashboard.router)
