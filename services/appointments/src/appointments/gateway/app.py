"""The gateway process: consumes batches and license-sync requests, talks to NIPR (the real client
or the simulator), publishes NIPR's answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.contracts.appointments import LicenseSyncRequested, TransactionBatchSubmitted
from agency_common.contracts.nipr import LicensesFetched, TransactionResultReceived
from agency_common.web import ServiceRuntime, page_permission, render
from agency_common.web.deps import Offset, Session, get_runtime
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from appointments.gateway import queries
from appointments.gateway.models import messaging
from appointments.gateway.nipr import NiprClient, RealNipr
from appointments.gateway.schemas import Retried, SubmissionOut, SubmissionPage
from appointments.gateway.settings import GatewaySettings
from appointments.gateway.simulator import NiprSimulator
from appointments.gateway.worker import (
    SubmissionWorker,
    make_batch_handler,
    make_license_handler,
    retry_failed,
)

HERE = Path(__file__).parent


class GatewayRuntime(ServiceRuntime):
    """The service runtime with what the gateway's routes use: the NIPR client and the submission worker."""

    client: NiprClient
    worker: SubmissionWorker


Gateway = Annotated[GatewayRuntime, Depends(get_runtime)]

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["gateway"])


HOME_PAGE_SIZE = 50  # submissions a page of the home screen


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, runtime: Gateway, session: Session,
               user: Annotated[User, page_permission("appointments:view")], sort: str = "", offset: Offset = 0,
               limit: int = HOME_PAGE_SIZE) -> HTMLResponse:
    client = runtime.client
    view = await queries.home_view(session, queries.SUBMISSION_SORTING.valid(sort or "-received_at"), max(0, offset),
                                   min(max(1, limit), 1000))
    return render(request, "gateway_home.html", **view,
                  client=runtime.settings.nipr_client,  # type: ignore[attr-defined]
                  double=getattr(client, "double_submissions", []), can_retry=user.can("appointments:submit"),
                  forms=[f.to_xml() for f in getattr(client, "forms", [])[-3:]][::-1])


@router.post("/retry-failed")
async def retry_page(runtime: Gateway, _user: Annotated[User, page_permission("appointments:submit")]) -> RedirectResponse:
    await retry_failed(runtime)
    runtime.worker.wake_soon()
    return RedirectResponse("/", status_code=303)


@api.get("/submissions", response_model=SubmissionPage, response_model_exclude_unset=True)
async def submissions(session: Session, _user: Annotated[User, require("appointments:view")],
                      batch_id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                      offset: Offset = 0, sort: str = "received_at") -> dict[str, Any]:
    """One page of submissions (of one batch or all) with the total (``{total, offset, limit, sort,
    items}``), in the order received unless ``sort`` names a column (``-`` before it for descending)."""
    shown = set(SubmissionOut.model_fields)  # a column added later stays out until the model names it
    listed = await queries.submissions(session, batch_id, offset, limit, sort)
    return listed.api([r.model_dump(mode="json", include=shown) for r in listed.items])


@api.post("/submissions/retry-failed", response_model=Retried)
async def retry_api(runtime: Gateway, _user: Annotated[User, require("appointments:submit")]) -> dict[str, int]:
    n = await retry_failed(runtime)
    runtime.worker.wake_soon()
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
    runtime = GatewayRuntime(settings, messaging, title="NIPR gateway", templates_dir=HERE / "templates",
                             nav=[("Submissions", "/")])
    runtime.publishes(TransactionResultReceived, LicensesFetched)
    runtime.client = client
    runtime.worker = worker = SubmissionWorker(runtime, client)
    runtime.consumer.on(TransactionBatchSubmitted, make_batch_handler(worker))
    runtime.consumer.on(LicenseSyncRequested, make_license_handler(client))
    runtime.background(worker.run)
    return runtime.create_app(router, api)
