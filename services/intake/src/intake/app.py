"""intake: carrier statements, the book of business, Create-Policies sessions, sales records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from agency_common.contracts.intake import (
    PolicyCreated,
    PolicySessionCreated,
    PolicyUpdated,
    StatementImported,
    StatementLinesPublished,
    StatementPublished,
)
from agency_common.web import ServiceRuntime
from intake import api, consumers, dashboard
from intake.imports import StatementImports
from intake.models import messaging
from intake.settings import IntakeSettings

HERE = Path(__file__).parent
UPLOAD_PATHS = ("/api/statements", "/statements")


class UploadLimit:
    """Refuses request bodies above the upload limit before they are parsed (413). Neither FastAPI
    nor Starlette caps request size; the copy to disk counts bytes again for bodies without a length."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope.get("headers") or ()).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes + 64 * 1024:
                body = b'{"detail":"the upload is larger than the limit of %d bytes"}' % self.max_bytes
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        settings, messaging, title="Intake", templates_dir=HERE / "templates",
        nav=[("Book of business", "/"), ("Statements", "/statements"), ("Policy sessions", "/policy-sessions"),
             ("Update policies", "/policies/update"), ("Carrier profiles", "/carrier-profiles")],
    )
    runtime.publishes(PolicyCreated, PolicyUpdated, StatementImported, StatementPublished, StatementLinesPublished,
                      PolicySessionCreated)
    consumers.subscribe(runtime.consumer)
    imports = StatementImports(runtime)
    runtime.background(imports.run)
    app = runtime.create_app(api.router, dashboard.router)
    app.state.imports = imports
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    return app
