"""Services in the test process: the real app (FastAPI + FastStream + relay) on a real broker and a
real database, driven through an ASGI client. Much faster to start than a process; the
cross-process guarantees are proven separately in tests/platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from agency_common.db.migrate import upgrade
from agency_common.settings import ServiceSettings
from agency_common.web.runtime import ServiceRuntime
from fastapi import FastAPI


@dataclass(frozen=True)
class ServiceDef:
    settings_cls: Callable[..., ServiceSettings]
    create_app: Callable[..., FastAPI]
    migrations: Path


def service_defs() -> dict[str, ServiceDef]:
    from appointments.app import create_app as appointments_app
    from appointments.gateway.app import create_app as gateway_app
    from appointments.gateway.settings import GatewaySettings
    from appointments.settings import AppointmentsSettings
    from intake.app import create_app as intake_app
    from intake.settings import IntakeSettings
    from invoicing.app import create_app as invoicing_app
    from invoicing.settings import InvoicingSettings
    from reporting.app import create_app as reporting_app
    from reporting.settings import ReportingSettings

    def mig(module: str) -> Path:
        return Path(__import__(module, fromlist=["_"]).__file__).parent / "migrations"

    return {
        "intake": ServiceDef(IntakeSettings, intake_app, mig("intake")),
        "invoicing": ServiceDef(InvoicingSettings, invoicing_app, mig("invoicing")),
        "appointments": ServiceDef(AppointmentsSettings, appointments_app, mig("appointments")),
        "reporting": ServiceDef(ReportingSettings, reporting_app, mig("reporting")),
        "gateway": ServiceDef(GatewaySettings, gateway_app, mig("appointments.gateway")),
    }


@dataclass
class InProcessService:
    name: str
    app: FastAPI
    client: httpx.AsyncClient
    settings: ServiceSettings

    @property
    def runtime(self) -> ServiceRuntime:
        return self.app.state.runtime

    def as_user(self, token: str) -> httpx.AsyncClient:
        """A client for this service carrying the user's bearer token."""
        return httpx.AsyncClient(transport=self.client._transport, base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {token}"}, timeout=60)


async def migrate(name: str, database_url: str) -> None:
    await asyncio.to_thread(upgrade, service_defs()[name].migrations, database_url)


@asynccontextmanager
async def run_service(name: str, env: dict[str, str], database_url: str, *, migrate_first: bool = True,
                      create_app_kwargs: dict[str, Any] | None = None, **overrides: Any) -> AsyncIterator[InProcessService]:
    d = service_defs()[name]
    if migrate_first:
        await migrate(name, database_url)
    settings = d.settings_cls(
        database_url=database_url,
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        jwt_secret=env["AGENCY_JWT_SECRET"],
        users_file=env["AGENCY_USERS_FILE"],
        pii_keys=env["AGENCY_PII_KEYS"],
        data_dir=env["AGENCY_DATA_DIR"],
        consumer_backoff_seconds=0.05,
        outbox_sweep_seconds=0.5,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        # tests favour latency over idle CPU: the fetch wait of before the idle platform (issue 17)
        kafka_fetch_max_wait_ms=50,
        log_json=True,
        **overrides,
    )
    app = d.create_app(settings, **(create_app_kwargs or {}))
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60))
        await asyncio.wait_for(app.state.runtime.broker_connected.wait(), 30)
        yield InProcessService(name, app, client, settings)


async def eventually(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
                     message: str = "") -> Any:
    """Await until ``predicate()`` (sync or async) returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}; last={last!r}")
