"""One HTTP dialect for every service: the runtime and a database session as dependencies (no
``request.app.state`` in routes), page permissions for dashboards, and one handler that turns a use
case's refusal (``agency_common.errors``) into its HTTP answer.

    @router.get("/api/things/{id}")
    async def thing(id: str, session: Session, _user: Annotated[User, require("things:view")]) -> Thing:
        return await queries.thing(session, id)          # NotFound -> 404 {"detail": "..."}

    @router.post("/api/things")
    async def add(body: ThingIn, runtime: Runtime, user: Annotated[User, require("things:edit")]) -> Thing:
        async with runtime.uow(actor=user.login) as tx:   # the acting user records every change
            return await usecases.add(tx, body)

    @router.get("/things", response_class=HTMLResponse)
    async def page(request: Request, user: Annotated[User, page_permission("things:view")]) -> HTMLResponse:
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as db_errors
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agency_common.errors import UseCaseError
from agency_common.listing import MAX_OFFSET
from agency_common.logging import get_logger
from agency_common.web.pages import PageForbidden, render

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime


def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


Runtime = Annotated["ServiceRuntime", Depends(get_runtime)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read session for the request (writes go through ``runtime.uow(actor=...)``)."""
    async with get_runtime(request).db.session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]

# A list's offset: a larger one than any list holds would overflow the database's integer (a 500).
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


def wants_html(request: Request) -> bool:
    """A dashboard page (not the JSON API, not a script asking for JSON)."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


log = get_logger(__name__)

RETRY_AFTER_SECONDS = "5"


# SQLite says OperationalError for a missing table too: only these mean "not available now".
SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open database file",
                      "readonly database", "disk i/o error", "database or disk is full")


def database_unavailable(exc: BaseException) -> bool:
    """The database could not answer (down, restarted, its connection cut, SQLite's write lock held
    past the busy timeout, the pool exhausted): the request may be tried again. Not a broken rule
    (a constraint) nor a bug in a query: those stay 500."""
    if isinstance(exc, db_errors.TimeoutError | ConnectionError):
        return True
    if not isinstance(exc, db_errors.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.Error):
        return isinstance(exc, db_errors.OperationalError) and any(
            words in str(exc.orig).lower() for words in SQLITE_UNAVAILABLE)
    return isinstance(exc, db_errors.OperationalError | db_errors.InterfaceError)


def unstorable_text(exc: BaseException) -> bool:
    """PostgreSQL refused a NUL in text (SQLSTATE 22021). The input guard refuses NUL in paths, queries,
    JSON and forms before any route; this is the net for what it does not read (a multipart form's
    fields), so such a request is a 422, not a 500."""
    orig = getattr(exc, "orig", None)
    return isinstance(exc, db_errors.DBAPIError) and (
        getattr(orig, "sqlstate", None) == "22021" or "invalid byte sequence for encoding" in str(orig))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UseCaseError)
    async def refused(request: Request, exc: UseCaseError) -> Response:
        if wants_html(request):
            return render(request, "message.html", status_code=exc.status_code, message=str(exc))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(PageForbidden)
    async def page_forbidden(request: Request, exc: PageForbidden) -> Response:
        noun = "permission" if len(exc.missing) == 1 else "permissions"
        return render(request, "message.html", status_code=403,
                      message=f"You do not have the {' and '.join(exc.missing)} {noun}.")

    async def unavailable(request: Request, exc: Exception) -> Response:
        if unstorable_text(exc):
            message = "text with NUL characters is not accepted"
            if wants_html(request):
                return render(request, "message.html", status_code=422, message=message)
            return JSONResponse({"detail": message}, status_code=422)
        if not database_unavailable(exc):
            raise exc  # a real error: the server's 500, with its traceback logged
        return unavailable_response(request, exc)

    for kind in (db_errors.DBAPIError, db_errors.TimeoutError, ConnectionError):
        app.add_exception_handler(kind, unavailable)


def unavailable_response(request: Request, exc: Exception) -> Response:
    """503 with Retry-After: the request may be tried again (with its Idempotency-Key)."""
    log.warning("database unavailable", path=request.url.path, error_type=type(exc).__name__,
                error=str(exc).splitlines()[0][:300] if str(exc) else "")
    message = "The database is not available at the moment; try again in a few seconds."
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if wants_html(request):
        response = render(request, "message.html", status_code=503, message=message)
        response.headers.update(headers)
        return response
    return JSONResponse({"detail": message}, status_code=503, headers=headers)


class DatabaseUnavailableMiddleware:
    """Middlewares run outside FastAPI's exception handlers: a database that cannot answer while one of
    them reads or writes (the idempotency keys) is a 503 to retry as well, not the server's 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started or not database_unavailable(exc):
                raise
            await unavailable_response(Request(scope), exc)(scope, receive, send)
