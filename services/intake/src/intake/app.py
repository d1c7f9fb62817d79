"""intake: carrier statements, the book of business, Create-Policies sessions, sales records."""

from __future__ import annotations

from pathlib import Path

from agency_common.contracts.intake import (
    CarrierRegistered,
    CarrierUpdated,
    PolicyCreated,
    PolicySessionCreated,
    PolicyUpdated,
    SalesRecordCreated,
    StatementImported,
    StatementLinesPublished,
    StatementPublished,
)
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from intake import api, api_individuals, consumers, dashboard, dashboard_individuals
from intake.carriers import api as carriers_api
from intake.carriers import dashboard as carriers_dashboard
from intake.imports import StatementImports
from intake.individual_imports import IndividualImports
from intake.individuals import SalesRecordJobs
from intake.models import messaging
from intake.policy_jobs import PolicyJobs
from intake.settings import IntakeSettings

HERE = Path(__file__).parent
def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        settings, messaging, title="Intake", templates_dir=HERE / "templates",
        nav=[("Book of business", "/"), ("Statements", "/statements"), ("Policy sessions", "/policy-sessions"),
             ("Update policies", "/policies/update"), ("Carriers", "/carriers"),
             ("Carrier profiles", "/carrier-profiles"),
             ("Individuals", "/individuals")],
    )
    runtime.publishes(CarrierRegistered, CarrierUpdated, PolicyCreated, PolicyUpdated, StatementImported,
                      StatementPublished, StatementLinesPublished,
                      PolicySessionCreated, SalesRecordCreated)
    consumers.subscribe(runtime.consumer, runtime)
    imports = StatementImports(runtime)
    sales_jobs = SalesRecordJobs(runtime)
    policy_jobs = PolicyJobs(runtime)
    individual_imports = IndividualImports(runtime)
    runtime.background(imports.run)
    app = runtime.create_app(api.router, api_individuals.router, carriers_api.router, dashboard.router,
                             dashboard_individuals.router, carriers_dashboard.router)
    app.state.imports = imports
    app.state.sales_jobs = sales_jobs
    app.state.policy_jobs = policy_jobs
    app.state.individual_imports = individual_imports
    return app
