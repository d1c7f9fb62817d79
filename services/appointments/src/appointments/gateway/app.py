"""The gateway process: consumes batches and license-sync requests, talks to NIPR (the real client
or the simulator), publishes NIPR's answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.contracts.appointments import LicenseSyncRequested, TransactionBatchSubmitted
from agency_common.contracts.nipr import LicensesFetched, TransactionResultReceived
from agency_common.web import ServiceRuntime, page_permission, render
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from appointments.gateway.models import LicenseLookup, Submission, messaging
from appointments.gateway.nipr import NiprClient, RealNipr
from appointments.gateway.settings import GatewaySettings
from appointments.gateway.simulator import NiprSimulator
from appointments.gateway.worker import (
    SubmissionWorker,
    make_batch_handler,
    make_license_handler,
    retry_failed,
)

HERE = Path(__file__).parent

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["gateway"])


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: Annotated[User, page_permission("appointments:view")]) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as session:
        counts = dict((await session.execute(
            select(func.coalesce(Submission.outcome, Submission.status), func.count())
            .group_by(func.coalesce(Submission.outcome, Submission.status)))).all())
        recent = (await session.execute(
            select(Submission).order_by(Submission.received_at.desc()).limit(50))).scalars().all()
        lookups = (await session.execute(
            select(LicenseLookup).order_by(LicenseLookup.fetched_at.desc()).limit(20))).scalars().all()
    client = request.app.state.nipr_client
    return render(request, "gateway_home.html", counts=counts, recent=recent, lookups=lookups,
                  client=request.app.state.runtime.settings.nipr_client,
                  double=getattr(client, "double_submissions", []), can_retry=user.can("appointments:submit"),
                  forms=[f.to_xml() for f in getattr(client, "forms", [])[-3:]][::-1])


@router.post("/retry-failed")
async def retry_page(request: Request, _user: Annotated[User, page_permission("appointments:submit")]) -> RedirectResponse:
    await retry_failed(request.app.state.runtime)
    request.app.state.worker.wake_soon()
    return RedirectResponse("/", status_code=303)


@api.get("/submissions")
async def submissions(request: Request, _user: Annotated[User, require("appointments:view")],
                      batch_id: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Submission).order_by(Submission.received_at)
    if batch_id:
        stmt = stmt.where(Submission.batch_id == batch_id)
    async with request.app.state.runtime.db.session() as session:
        return [r.model_dump(mode="json") for r in (await session.execute(stmt.limit(1000))).scalars()]


@api.post("/submissions/retry-failed")
async def retry_api(request: Request, _user: Annotated[User, require("appointments:submit")]) -> dict[str, int]:
    n = await retry_failed(request.app.state.runtime)
    request.app.state.worker.wake_soon()
    return {"retried": n}


def make_client(settings: GatewaySettings) -> NiprClient:
    if settings.nipr_client == "real":
        return RealNipr(settings.nipr_gateway_url, settings.nipr_username,
                        settings.nipr_password.get_secret_value() if settings.nipr_password else None,
                        settings.nipr_timeout_seconds)
    return NiprSimulator(delay_seconds=settings.simulator_delay_seconds, failure_rate=settings.simulator_failure_rate,
                         seed=settings.simulator_seed)


def create_app(settings: GatewaySettings | None = None, client: NiprClient | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    client = client or make_client(settings)
    runtime = ServiceRuntime(settings, messaging, title="NIPR gateway", templates_dir=HERE / "templates",
                             nav=[("Submissions", "/")])
    runtime.publishes(TransactionResultReceived, LicensesFetched)
    worker = SubmissionWorker(runtime, client)
    runtime.consumer.on(TransactionBatchSubmitted, make_batch_handler(worker))
    runtime.consumer.on(LicenseSyncRequested, make_license_handler(client))
    runtime.background(worker.run)
    app = runtime.create_app(router, api)
    app.state.nipr_client = client
    app.state.worker = worker
    return app
