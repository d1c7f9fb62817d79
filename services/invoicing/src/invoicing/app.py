"""invoicing: direct-bill reconciliation over a read model of intake's policies."""

from __future__ import annotations

from pathlib import Path

from agency_common.contracts.invoicing import (
    InvoicePosted,
    InvoicesPosted,
    PaymentRecorded,
    ReconciliationChanged,
)
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from invoicing import consumers
from invoicing.invoices import api as invoices_api
from invoicing.invoices import dashboard as invoices_pages
from invoicing.models import messaging
from invoicing.payments import api as payments_api
from invoicing.payments import dashboard as payments_pages
from invoicing.policy_view import api as policy_view_api
from invoicing.reconciliations import api as reconciliations_api
from invoicing.reconciliations import dashboard as reconciliations_pages
from invoicing.reports import api as reports_api
from invoicing.reports import dashboard as reports_pages
from invoicing.settings import InvoicingSettings
from invoicing.stages import api as stages_api
from invoicing.stages import dashboard as stages_pages
from invoicing.stages import jobs
from invoicing.statement_entry import api as statement_entry_api
from invoicing.statement_entry import dashboard as statement_entry_pages

HERE = Path(__file__).parent
# JSON routers, then the pages; by the life of a reconciliation
ROUTERS = [m.router for m in (
    policy_view_api, reconciliations_api, statement_entry_api, stages_api, invoices_api, payments_api, reports_api,
    reconciliations_pages, statement_entry_pages, stages_pages, invoices_pages, payments_pages, reports_pages)]


def create_app(settings: InvoicingSettings | None = None) -> FastAPI:
    settings = settings or InvoicingSettings()
    runtime = ServiceRuntime(settings, messaging, title="Invoicing", templates_dir=HERE / "templates",
                             nav=[("Home", "/"), ("Reconciliations", "/reconciliations"),
                                  ("People commission defaults", "/people-defaults")])
    consumers.subscribe(runtime.consumer, runtime)
    runtime.publishes(InvoicePosted, InvoicesPosted, PaymentRecorded, ReconciliationChanged)
    jobs.register(runtime)
    return runtime.create_app(*ROUTERS)
