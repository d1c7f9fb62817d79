"""intake: carrier statements, the book of business, Create-Policies sessions, sales records."""

from __future__ import annotations

from pathlib import Path

from agency_common.contracts.intake import (
    CarrierRegistered,
    CarrierUpdated,
    PoliciesCreated,
    PoliciesUpdated,
    PolicyCreated,
    PolicySessionCreated,
    PolicyUpdated,
    SalesRecordCreated,
    SalesRecordsCreated,
    StatementImported,
    StatementLinesPublished,
    StatementPublished,
)
from agency_common.web import ServiceRuntime
from fastapi import FastAPI

from intake import consumers
from intake.carriers import api as carriers_api
from intake.carriers import dashboard as carriers_dashboard
from intake.individuals import api as individuals_api
from intake.individuals import dashboard as individuals_dashboard
from intake.individuals.import_jobs import IndividualImports
from intake.individuals.sales_record_jobs import SalesRecordJobs
from intake.models import messaging
from intake.policies import api as policies_api
from intake.policies import dashboard as policies_dashboard
from intake.policy_sessions import api as policy_sessions_api
from intake.policy_sessions import dashboard as policy_sessions_dashboard
from intake.policy_sessions.jobs import PolicyJobs
from intake.settings import IntakeSettings
from intake.statements import api as statements_api
from intake.statements import dashboard as statements_dashboard
from intake.statements.imports import StatementImports
from intake.web import INDIVIDUAL_IMPORTS, POLICY_JOBS, SALES_RECORD_JOBS, STATEMENT_IMPORTS

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
    runtime.publishes(CarrierRegistered, CarrierUpdated, PolicyCreated, PolicyUpdated, PoliciesCreated,
                      PoliciesUpdated, StatementImported, StatementPublished, StatementLinesPublished,
                      PolicySessionCreated, SalesRecordCreated, SalesRecordsCreated)
    # the individual, sales-record and saved-search forms answer bad input on the form, input kept
    runtime.forms_checked_by_pages = ("/individuals/", "/sales-records/")
    consumers.subscribe(runtime.consumer, runtime)
    imports = StatementImports(runtime)
    sales_jobs = SalesRecordJobs(runtime)
    policy_jobs = PolicyJobs(runtime)
    individual_imports = IndividualImports(runtime)
    app = runtime.create_app(
        policies_api.router, statements_api.router, policy_sessions_api.router, individuals_api.router,
        carriers_api.router, policies_dashboard.router, statements_dashboard.router,
        policy_sessions_dashboard.router, individuals_dashboard.router, carriers_dashboard.router)
    # the routers reach these through intake.web.app_object (typed next to each class)
    for name, part in ((STATEMENT_IMPORTS, imports), (SALES_RECORD_JOBS, sales_jobs), (POLICY_JOBS, policy_jobs),
                       (INDIVIDUAL_IMPORTS, individual_imports)):
        setattr(app.state, name, part)
    return app
