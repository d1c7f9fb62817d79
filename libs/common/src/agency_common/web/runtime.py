"""A service's runtime: everything ``create_app(settings)`` wires, built without globals.

Database, broker, outbox relay, unit of work, event consumer, tokens, users, PII cipher, metrics
and templates. A service's ``create_app`` builds one, registers its handlers and routes, and asks
it for the FastAPI application (HTTP + FastStream in one lifespan; the deprecated FastStream
FastAPI plugin is not used).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from faststream.kafka import KafkaBroker
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Table, func, select

from agency_common import dead_letters, idempotency
from agency_common.auth import TokenService, UserDirectory
from agency_common.contracts.envelope import Envelope, EventPayload
from agency_common.db.engine import Database
from agency_common.jobs import JobRunner
from agency_common.leases import Leases
from agency_common.logging import configure_logging, get_logger
from agency_common.login_guard import LoginGuard, LoginPolicy
from agency_common.messaging.broker import OutboxPublisher, make_broker
from agency_common.messaging.consumer import EventConsumer
from agency_common.metrics import ServiceMetrics
from agency_common.outbox.relay import OutboxRelay, PendingEvent
from agency_common.outbox.tables import MessagingTables
from agency_common.outbox.unit_of_work import UnitOfWork
from agency_common.pii import PiiCipher
from agency_common.settings import ServiceSettings
from agency_common.token_revocations import RevocationFeed
from agency_common.web.csrf import CsrfMiddleware
from agency_common.web.deps import DatabaseUnavailableMiddleware, install_error_handlers
from agency_common.web.input_guard import InputGuard
from agency_common.web.openapi import document_security
from agency_common.web.routes import install_common

COMMON_WEB = Path(__file__).parent
log = get_logger(__name__)


def freeze_startup_objects() -> None:
    """What start-up built (modules, models, routes, mappers) lives as long as the process: moved
    out of the collector's sight (``gc.freeze``), so the full collections that a bulk job's
    allocations trigger do not walk it again each time (a third of a 100,000-line import's time
    went to them)."""
    gc.collect()
    gc.freeze()


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        tables: MessagingTables,
        *,
        title: str,
        templates_dir: Path | None = None,
        nav: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        # This process among the service's replicas (leases name their holder with it).
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.title = title
        self.nav = list(nav)  # the service's own dashboard pages: (label, path)
        # dashboard pages whose forms check their own fields and answer on the form (``InputGuard``)
        self.forms_checked_by_pages: tuple[str, ...] = ()
        self.metrics = ServiceMetrics(self.name)
        self.db = Database(settings.database_url)
        self.tables = tables
        self.broker: KafkaBroker = make_broker(settings)
        self.outbox_publisher = OutboxPublisher(settings)
        self.relay = OutboxRelay(
            self.db,
            tables,
            self.outbox_publisher,
            name=self.name,
            batch_size=settings.outbox_batch_size,
            sweep_seconds=settings.outbox_sweep_seconds,
            on_published=self._count_published,
        )
        self.uow = UnitOfWork(self.db, tables, producer=self.name, on_commit=self.relay.wake)
        self.tokens = TokenService(keys=settings.token_keys(), ttl_minutes=settings.jwt_ttl_minutes,
                                   refresh_ttl_minutes=settings.refresh_ttl_minutes)
        self.revocations = RevocationFeed(settings, self.tokens.denylist)
        self.tokens.on_revoke = self.revocations.submit
        self.users = (
            UserDirectory.from_file(settings.users_file) if settings.users_file else UserDirectory({}, {})
        )
        self.login_guard = LoginGuard(LoginPolicy(
            failures_before_lockout=settings.login_failures_before_lockout,
            lockout_seconds=settings.login_lockout_seconds,
            failures_per_address=settings.login_failures_per_address,
        ))
        self.pii = PiiCipher(settings.pii_keys.get_secret_value()) if settings.pii_keys else None
        self.consumer = EventConsumer(settings, self.broker, self.uow, self.metrics, pii=self.pii)
        loaders = [FileSystemLoader(str(templates_dir))] if templates_dir else []
        loaders.append(FileSystemLoader(str(COMMON_WEB / "templates")))
        env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html"]))
        self.templates = Jinja2Templates(env=env)
        self.broker_connected = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: list[Callable[[], Any]] = []
        self.jobs: dict[str, JobRunner] = {}
        self.leases = (Leases(self.db, tables.leases, self.instance_id, timedelta(seconds=settings.job_lease_seconds))
                       if tables.leases is not None else None)

    # -- wiring ---------------------------------------------------------------------------------
    def publishes(self, *payload_types: type[EventPayload]) -> None:
        """Declare the events this service emits (documented in its AsyncAPI)."""
        for cls in payload_types:
            self.broker.publisher(
                cls.topic,
                title=f"{cls.topic}:{cls.event_type}",
                schema=Envelope[cls],  # type: ignore[valid-type]
                description=(cls.__doc__ or "").strip() or None,
            )

    def background(self, factory: Callable[[], Any]) -> None:
        """A coroutine factory run for the app's lifetime (schedulers, pollers)."""
        self._background.append(factory)

    def job_runner(self, name: str, table: Table, work: Callable[[str], Awaitable[None]],
                   **options: Any) -> JobRunner:
        """A kind of background job of this service, run (and resumed) for the app's lifetime;
        ``self.jobs[name]`` launches one. Options: see ``JobRunner``."""
        if self.tables.leases is not None:
            options.setdefault("leases", self.leases)
        runner = JobRunner(self.db, table, work, name=name, **options)
        self.jobs[name] = runner
        self.background(runner.run)
        return runner

    def _count_published(self, events: Iterable[PendingEvent]) -> None:
        for ev in events:
            self.metrics.events_published.labels(ev.topic).inc()

    # -- lifecycle ------------------------------------------------------------------------------
    async def _connect_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.start()
                self.broker_connected.set()
                log.info("broker connected", bootstrap=self.settings.kafka_bootstrap_servers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported, never raised
                log.warning("broker not reachable yet", error=str(exc), retry_in=delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _purge_idempotency_keys(self) -> None:
        keep = timedelta(hours=self.settings.idempotency_retention_hours)
        while True:
            with contextlib.suppress(Exception):
                await idempotency.purge(self.db, self.tables.idempotency_keys, keep)
            await asyncio.sleep(3600)

    async def _seal_old_dead_letters(self) -> None:
        try:
            sealed = await dead_letters.seal_stored(self.db, self.tables.dead_letters, self.pii)
            if sealed:
                log.info("dead letters sealed", count=sealed)
        except Exception as exc:  # noqa: BLE001 - reported; tried again at the next start
            log.warning("sealing stored dead letters failed", error=str(exc))

    async def _lag_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.metrics_refresh_seconds)
            with contextlib.suppress(Exception):
                await self.consumer.update_lag()
            with contextlib.suppress(Exception):
                await self.update_gauges()

    async def update_gauges(self) -> None:
        """What /metrics shows of this service's state beside the counters."""
        pending, oldest_seconds = await self.relay.backlog()
        self.metrics.outbox_pending.set(pending)
        self.metrics.outbox_oldest_seconds.set(oldest_seconds)
        dl = self.tables.dead_letters
        async with self.db.session() as s:
            unreplayed = (await s.execute(select(func.count()).select_from(dl).where(dl.c.replayed_at.is_(None))))
            self.metrics.dead_letters_unreplayed.set(unreplayed.scalar_one())

    async def broker_ok(self) -> bool:
        ok = self.broker_connected.is_set() and await self.broker.ping(timeout=2.0)
        self.metrics.broker_connected.set(1 if ok else 0)
        return ok

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        configure_logging(self.name, self.settings.log_level, self.settings.log_json)
        if self.settings.run_consumers:
            self.consumer.register()
        self._tasks = [
            asyncio.create_task(self._connect_broker(), name="broker-connect"),
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(self._lag_loop(), name="consumer-lag"),
            asyncio.create_task(self._purge_idempotency_keys(), name="idempotency-purge"),
            asyncio.create_task(self._seal_old_dead_letters(), name="dead-letters-seal"),
            asyncio.create_task(self.revocations.read_loop(), name="token-revocations-read"),
            asyncio.create_task(self.revocations.publish_loop(), name="token-revocations-publish"),
        ]
        self._tasks += [asyncio.create_task(f(), name=getattr(f, "__name__", "background")) for f in self._background]
        freeze_startup_objects()
        log.info("service started", port=self.settings.port)
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.broker.stop()
            with contextlib.suppress(Exception):
                await self.outbox_publisher.stop()
            await self.db.dispose()
            log.info("service stopped")

    def create_app(self, *routers: Any, static_dir: Path | None = None) -> FastAPI:
        # FastAPIOffline: /docs and /redoc from files in the package, not a CDN (works offline,
        # and no third-party script runs on the origin that holds the login cookie).
        app = FastAPIOffline(
            title=self.title,
            lifespan=self.lifespan,
            docs_url="/docs",
            redoc_url="/redoc",
            static_url="/static/docs",
            openapi_url="/openapi.json",
            # Neither FastAPI nor Starlette caps a request by default: every upload is bounded here.
            max_body_size=self.settings.max_upload_bytes,
        )
        app.state.runtime = self
        # Added before the common middleware, so it runs inside it: in the task that runs the route.
        app.add_middleware(idempotency.IdempotencyMiddleware, db=self.db, table=self.tables.idempotency_keys,
                           login_of=idempotency.login_from_token(self.tokens.verify))
        app.add_middleware(DatabaseUnavailableMiddleware)  # around it: its database errors are 503s too
        # Outside the idempotency middleware: a forged request is refused before anything is claimed.
        app.add_middleware(InputGuard, forms_checked_by_pages=self.forms_checked_by_pages)
        app.add_middleware(CsrfMiddleware, secret=self.settings.jwt_secret.get_secret_value(),
                           trusted_origins=self.settings.trusted_origins.split(","),
                           session_of=self.tokens.session_of)
        install_common(app, self)
        install_error_handlers(app)
        for router in routers:
            app.include_router(router)
        document_security(app)
        app.mount("/static/common", StaticFiles(directory=str(COMMON_WEB / "static")), name="common-static")
        if static_dir is not None:
            app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
        return app
