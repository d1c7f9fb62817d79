"""The gateway process: consumes batches, submits once per idempotency key, publishes results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from agency_common.contracts.appointments import TransactionBatchSubmitted
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.nipr import TransactionResultReceived
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from agency_common.web import DashboardUser, ServiceRuntime, render
from appointments.gateway.models import Submission, messaging
from appointments.gateway.nipr import NiprClient, SimulatedNipr
from appointments.gateway.settings import GatewaySettings

HERE = Path(__file__).parent


def make_batch_handler(client: NiprClient) -> Any:
    async def on_batch(tx: Transaction, event: Envelope[Any]) -> None:
        batch: TransactionBatchSubmitted = event.payload
        for t in batch.transactions:
            done = await tx.session.get(Submission, t.idempotency_key)
            if done is None:
                answer = await client.submit(t)
                done = Submission(idempotency_key=t.idempotency_key, transaction_id=t.transaction_id,
                                  batch_id=batch.batch_id, state=t.state, outcome=answer.outcome,
                                  reason=answer.reason, nipr_reference=answer.reference, submitted_at=utcnow())
                tx.session.add(done)
            # A redelivered batch re-publishes the stored answer: NIPR is never asked twice.
            await tx.emit(TransactionResultReceived(
                batch_id=batch.batch_id, transaction_id=t.transaction_id, idempotency_key=t.idempotency_key,
                outcome=done.outcome, reason=done.reason, nipr_reference=done.nipr_reference,
                processed_at=done.submitted_at,
            ))

    return on_batch


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, _user: DashboardUser) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as session:
        counts = dict((await session.execute(
            select(Submission.outcome, func.count()).group_by(Submission.outcome))).all())
        recent = (await session.execute(
            select(Submission).order_by(Submission.submitted_at.desc()).limit(50))).scalars().all()
    return render(request, "gateway_home.html", counts=counts, recent=recent,
                  client=request.app.state.runtime.settings.nipr_client)


def create_app(settings: GatewaySettings | None = None, client: NiprClient | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(settings, messaging, title="NIPR gateway", templates_dir=HERE / "templates",
                             nav=[("Submissions", "/")])
    runtime.publishes(TransactionResultReceived)
    runtime.consumer.on(TransactionBatchSubmitted, make_batch_handler(client or SimulatedNipr()))
    return runtime.create_app(router)
