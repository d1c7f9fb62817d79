"""Routes every service has: health, metrics, AsyncAPI, login, dead letters."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import jwt
import structlog
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import select, update

from agency_common import audit, dead_letters
from agency_common.auth import (
    COOKIE_NAME,
    REFRESH_COOKIE,
    REFRESH_PATH,
    CurrentUser,
    TokenPair,
    User,
    require,
    token_from_request,
)
from agency_common.dead_letters import mask_error
from agency_common.logging import correlation_id_var, get_logger
from agency_common.login_guard import Throttled
from agency_common.timeutil import utcnow
from agency_common.web.deps import Offset
from agency_common.web.pages import LoginRequired, page_permission, render
from agency_common.web.security import accepted_correlation_id, security_headers

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime

log = get_logger(__name__)


def _asyncapi(runtime: ServiceRuntime) -> Any:
    return AsyncAPI(runtime.broker, title=f"{runtime.title} events", version="1.0.0").to_specification()


ASYNCAPI_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} AsyncAPI</title>
<link rel="stylesheet" href="/static/common/asyncapi.min.css"></head>
<body><div id="asyncapi"></div>
<script src="/static/common/asyncapi-standalone.js"></script>
<script>
fetch("/asyncapi.json").then(r => r.json()).then(schema => AsyncApiStandalone.render(
  {{schema, config: {{show: {{sidebar: true}}, sidebar: {{showOperations: "byDefault"}}}}}},
  document.getElementById("asyncapi")));
</script></body></html>"""


class RefreshIn(BaseModel):
    refresh_token: str


class LogoutIn(BaseModel):
    refresh_token: str | None = None


class TokenOut(BaseModel):
    """A login's or a refresh's answer (OAuth 2 token response)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int  # seconds the access token lives
    refresh_token: str
    refresh_expires_in: int  # seconds the session has left


access_log = get_logger("access")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def install_common(app: FastAPI, runtime: ServiceRuntime) -> None:
    metrics = runtime.metrics
    https_only = runtime.settings.https_only

    @app.middleware("http")
    async def context_and_metrics(request: Request, call_next: Any) -> Response:
        cid = accepted_correlation_id(request.headers.get("x-correlation-id")) or str(uuid.uuid4())
        token = correlation_id_var.set(cid)
        structlog.contextvars.bind_contextvars(correlation_id=cid)
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Correlation-ID"] = cid
            for name, value in security_headers(request.url.path, https_only=https_only).items():
                response.headers.setdefault(name, value)
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - start
            metrics.http_requests.labels(request.method, path, str(status)).inc()
            metrics.http_latency.labels(request.method, path).observe(seconds)
            # the access log: one line per request (probes and scrapes only at debug level)
            (access_log.debug if path in QUIET_PATHS else access_log.info)(
                "request", method=request.method, route=path, status=status, duration_ms=round(seconds * 1000, 1),
                user=getattr(getattr(request.state, "user", None), "login", None))
            structlog.contextvars.unbind_contextvars("correlation_id")
            correlation_id_var.reset(token)

    @app.exception_handler(LoginRequired)
    async def to_refresh(request: Request, exc: LoginRequired) -> RedirectResponse:
        # 307 for a form post: the browser posts it again to the refresh route, which sends it back
        # (with the new access cookie) to where it was going, the form's CSRF token still good.
        if not exc.refresh:
            return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)
        safe = request.method in ("GET", "HEAD")
        return RedirectResponse(f"{REFRESH_PATH}/refresh?next={quote(exc.next_url)}",
                                status_code=303 if safe else 307)

    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await runtime.db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            checks["database"] = f"error: {type(exc).__name__}"
        checks["broker"] = "ok" if await runtime.broker_ok() else "unreachable"
        # Without the broker the service still answers: writes commit with their events kept in the
        # outbox until it is back. Only a database it cannot reach takes it out of the load balancer.
        ready = checks["database"] == "ok"
        degraded = ready and checks["broker"] != "ok"
        return JSONResponse({"ready": ready, "degraded": degraded, **checks}, status_code=200 if ready else 503)

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/asyncapi", include_in_schema=False, response_class=HTMLResponse)
    async def asyncapi_page() -> str:
        return ASYNCAPI_PAGE.format(title=runtime.title)

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> Response:
        return Response(_asyncapi(runtime).to_json(), media_type="application/json")

    @router.get("/asyncapi.yaml", include_in_schema=False)
    async def asyncapi_yaml() -> PlainTextResponse:
        return PlainTextResponse(_asyncapi(runtime).to_yaml(), media_type="application/yaml")

    # -- login ----------------------------------------------------------------------------------
    async def _log_in(request: Request, login: str, password: str) -> User | None:
        """Every attempt checked against the throttle, hashed off the loop, counted and logged."""
        address = request.client.host if request.client else "unknown"
        guard = runtime.login_guard
        try:
            guard.check(login, address)
        except Throttled as exc:
            runtime.metrics.logins.labels("throttled").inc()
            log.warning("login refused", login=login, address=address, reason=exc.reason,
                        retry_after=exc.retry_after)
            await audit.record(runtime.db, audit_log, "login.refused", login, address=address,
                               detail={"reason": exc.reason, "retry_after": exc.retry_after})
            raise
        runtime.users = runtime.users.current()  # a user the administrator added since the start
        user = await guard.authenticate(runtime.users, login, password)
        if user is None:
            guard.failed(login, address)
            runtime.metrics.logins.labels("wrong").inc()
            log.warning("login failed", login=login, address=address, reason="wrong login or password")
            await audit.record(runtime.db, audit_log, "login.failed", login, address=address)
            return None
        guard.succeeded(login)
        runtime.metrics.logins.labels("ok").inc()
        log.info("login succeeded", login=login, address=address)
        await audit.record(runtime.db, audit_log, "login.succeeded", login, address=address)
        return user

    def set_session_cookies(response: Response, pair: TokenPair) -> None:
        secure = runtime.settings.https_only
        # the access cookie lives as long as the session (its token inside expires sooner): its
        # session id keeps the page's CSRF token valid across refreshes
        max_age = max(1, int(pair.refresh_expires_at - time.time()))
        response.set_cookie(COOKIE_NAME, pair.access_token, httponly=True, samesite="strict", secure=secure,
                            max_age=max_age)
        response.set_cookie(REFRESH_COOKIE, pair.refresh_token, httponly=True, samesite="strict", secure=secure,
                            max_age=max_age, path=REFRESH_PATH)

    def clear_session_cookies(response: Response) -> None:
        secure = runtime.settings.https_only
        response.delete_cookie(COOKIE_NAME, httponly=True, samesite="strict", secure=secure)
        response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="strict", secure=secure)

    def not_signing() -> HTTPException:
        return HTTPException(503, "this service only verifies tokens: log in on the service that issues them")

    def token_answer(pair: TokenPair) -> TokenOut:
        return TokenOut(access_token=pair.access_token, expires_in=pair.access_expires_in,
                        refresh_token=pair.refresh_token,
                        refresh_expires_in=max(0, int(pair.refresh_expires_at - time.time())))

    async def refreshed(refresh_token: str) -> TokenPair:
        """Rotate a refresh token against the users file as it is now (raises ``jwt.PyJWTError``)."""
        runtime.users = runtime.users.current()
        pair = runtime.tokens.refresh(refresh_token, runtime.users)
        runtime.metrics.logins.labels("refreshed").inc()
        return pair

    @router.post("/api/auth/token", tags=["auth"], response_model=TokenOut)
    async def issue_token(request: Request,
                          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
        """Log in: a short-lived access token and a refresh token (``POST /api/auth/refresh``)."""
        if not runtime.tokens.can_sign:
            raise not_signing()
        try:
            user = await _log_in(request, form.username, form.password)
        except Throttled as exc:
            raise HTTPException(429, exc.message(), headers={"Retry-After": str(exc.retry_after)}) from None
        if user is None:
            raise HTTPException(401, "wrong login or password", headers={"WWW-Authenticate": "Bearer"})
        return token_answer(runtime.tokens.issue_pair(user, credential=runtime.users.credential_of(user.login)))

    @router.post("/api/auth/refresh", tags=["auth"], response_model=TokenOut)
    async def refresh_token(body: RefreshIn) -> TokenOut:
        """A new access token (the user's groups as they are now) and the next refresh token: the one
        given is spent (a second use is refused and ends the session)."""
        if not runtime.tokens.can_sign:
            raise not_signing()
        try:
            return token_answer(await refreshed(body.refresh_token))
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"refresh refused: {exc}", headers={"WWW-Authenticate": "Bearer"}) from None

    @router.post("/api/auth/logout", tags=["auth"], status_code=204)
    async def api_logout(request: Request, body: LogoutIn | None = None) -> Response:
        """Revoke the bearer token and its session (and the refresh token given, if any), on every
        service."""
        who = runtime.tokens.logout(token_from_request(request), body.refresh_token if body else None)
        if who is None:
            raise HTTPException(401, "no valid token to revoke", headers={"WWW-Authenticate": "Bearer"})
        await audit.record(runtime.db, audit_log, "logout", who,
                           address=request.client.host if request.client else None)
        return Response(status_code=204)

    @router.get("/api/me", tags=["auth"])
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"login": user.login, "name": user.name, "groups": list(user.groups),
                "permissions": sorted(user.permissions)}

    @router.get("/login", include_in_schema=False, response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return render(request, "login.html", next=_safe_next(next), error=None)

    @router.post("/login", include_in_schema=False)
    async def login_submit(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not runtime.tokens.can_sign:
            return render(request, "login.html", status_code=503, next=_safe_next(next),
                          error="This service does not issue logins: log in on the platform's login service.")
        try:
            user = await _log_in(request, username, password)
        except Throttled as exc:
            response = render(request, "login.html", status_code=429, next=_safe_next(next), error=exc.message())
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            return render(request, "login.html", status_code=401, next=_safe_next(next),
                          error="Wrong login or password.")
        response = RedirectResponse(_safe_next(next), status_code=303)
        set_session_cookies(response, runtime.tokens.issue_pair(user, credential=runtime.users.credential_of(user.login)))
        return response

    @router.api_route(f"{REFRESH_PATH}/refresh", methods=["GET", "POST"], include_in_schema=False)
    async def refresh_page(request: Request, next: str = "/") -> Response:
        """Where a page with an expired access cookie sends the browser (the refresh cookie is sent
        here only): new cookies and back to the page (a form post is posted again: 307), or the
        login page when the session has ended."""
        token = request.cookies.get(REFRESH_COOKIE)
        if token and runtime.tokens.can_sign:
            try:
                pair = await refreshed(token)
            except jwt.PyJWTError as exc:
                log.info("session refresh refused", reason=str(exc))
            else:
                response = RedirectResponse(_safe_next(next), status_code=303 if request.method == "GET" else 307)
                set_session_cookies(response, pair)
                return response
        response = RedirectResponse(f"/login?next={quote(_safe_next(next))}", status_code=303)
        clear_session_cookies(response)
        return response

    async def logout_response(request: Request) -> Response:
        who = runtime.tokens.logout(request.cookies.get(COOKIE_NAME), request.cookies.get(REFRESH_COOKIE))
        if who:
            await audit.record(runtime.db, audit_log, "logout", who,
                               address=request.client.host if request.client else None)
        response = RedirectResponse("/login", status_code=303)
        clear_session_cookies(response)
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        """The access token and its whole session revoked (the refresh cookie is not sent here: the
        session's revocation refuses it)."""
        return await logout_response(request)

    @router.post(f"{REFRESH_PATH}/logout", include_in_schema=False)
    async def logout_with_refresh(request: Request) -> Response:
        return await logout_response(request)

    # -- the audit trail ------------------------------------------------------------------------
    audit_log = runtime.tables.audit_log

    def audit_query(actor: str | None, action: str | None, subject_id: str | None, since: datetime | None,
                    until: datetime | None, limit: int, offset: int) -> audit.AuditQuery:
        return audit.AuditQuery(actor=actor or None, action=action or None, subject_id=subject_id or None,
                                since=since, until=until, limit=limit, offset=offset)

    @router.get("/api/audit", tags=["operations"])
    async def audit_api(
        _user: Annotated[User, require("audit:view")], actor: str | None = None, action: str | None = None,
        subject_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Offset = 0,
    ) -> dict[str, Any]:
        """The audit trail of this service, newest first: logins, reveals and exports of personal data,
        deletions and changes of financial records, each with who, when, from where and what."""
        total, items = await audit.page(runtime.db, audit_log,
                                        audit_query(actor, action, subject_id, since, until, limit, offset))
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    @router.get("/audit", include_in_schema=False, response_class=HTMLResponse)
    async def audit_page(
        request: Request, _user: Annotated[User, page_permission("audit:view")], actor: str = "",
        action: str = "", subject_id: str = "", limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Offset = 0,
    ) -> HTMLResponse:
        total, items = await audit.page(runtime.db, audit_log,
                                        audit_query(actor, action, subject_id, None, None, limit, offset))
        return render(request, "audit.html", rows=items, total=total, limit=limit, offset=offset,
                      filters={"actor": actor, "action": action, "subject_id": subject_id})

    # -- dead letters ---------------------------------------------------------------------------
    dl = runtime.tables.dead_letters

    async def list_dead_letters(limit: int = 100, include_replayed: bool = False,
                                reveal: bool = False) -> list[dict[str, Any]]:
        stmt = select(dl).order_by(dl.c.id.desc()).limit(min(limit, 1000))
        if not include_replayed:
            stmt = stmt.where(dl.c.replayed_at.is_(None))
        async with runtime.db.session() as session:
            rows = (await session.execute(stmt)).mappings().all()
        return [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items() if k != "payload"}
            | {"error": mask_error(row["error"]),
               "payload_preview": _preview(row["payload"], reveal)}
            for row in rows
        ]

    async def revealed(user: User, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Dead letters shown unmasked are a reveal of whatever PII they hold: recorded."""
        if rows and user.can("pii:reveal"):
            await audit.record(runtime.db, audit_log, "pii.revealed", user.login, subject_type="dead_letters",
                               detail={"dead_letters": [r["id"] for r in rows]})
        return rows

    def _preview(stored: bytes, reveal: bool) -> str:
        try:
            return dead_letters.preview(dead_letters.unseal(stored, runtime.pii), reveal=reveal)
        except ValueError as exc:
            return f"(sealed: {exc})"

    @router.get("/api/dead-letters", tags=["operations"])
    async def dead_letters_api(
        user: Annotated[User, require("operations:view")], include_replayed: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Messages that could not be applied. PII in them is masked unless the user has pii:reveal."""
        return await revealed(user, await list_dead_letters(limit, include_replayed, reveal=user.can("pii:reveal")))

    @router.post("/api/dead-letters/{dead_letter_id}/replay", tags=["operations"])
    async def replay_dead_letter(
        dead_letter_id: int, user: Annotated[User, require("operations:replay")]
    ) -> dict[str, Any]:
        return await replay(runtime, dead_letter_id, user.login)

    @router.get("/dead-letters", include_in_schema=False, response_class=HTMLResponse)
    async def dead_letters_page(request: Request,
                                user: Annotated[User, page_permission("operations:view")]) -> HTMLResponse:
        return render(request, "dead_letters.html",
                      rows=await revealed(user, await list_dead_letters(200, True, reveal=user.can("pii:reveal"))),
                      can_replay=user.can("operations:replay"))

    @router.post("/dead-letters/{dead_letter_id}/replay", include_in_schema=False)
    async def replay_from_page(dead_letter_id: int,
                               user: Annotated[User, page_permission("operations:replay")]) -> Response:
        await replay(runtime, dead_letter_id, user.login)
        return RedirectResponse("/dead-letters", status_code=303)

    app.include_router(router)


async def replay(runtime: ServiceRuntime, dead_letter_id: int, actor: str) -> dict[str, Any]:
    """Publish a dead-lettered message back to its topic (after the cause was fixed)."""
    dl = runtime.tables.dead_letters
    async with runtime.db.transaction() as session:
        row = (await session.execute(select(dl).where(dl.c.id == dead_letter_id))).mappings().first()
        if row is None:
            raise HTTPException(404, "no such dead letter")
        if row["replayed_at"] is not None:
            raise HTTPException(409, "already replayed")
        headers = json.loads(row["headers"]) | {"x-replayed-by": actor}
        await runtime.broker.publish(
            dead_letters.unseal(bytes(row["payload"]), runtime.pii), topic=row["topic"],
            key=row["key"].encode() if row["key"] else None, headers=headers,
        )
        await session.execute(
            update(dl).where(dl.c.id == dead_letter_id).values(replayed_at=utcnow(), replayed_by=actor)
        )
    return {"id": dead_letter_id, "topic": row["topic"], "replayed_by": actor}


def _safe_next(next_url: str) -> str:
    """Only local paths: the login form is never an open redirect."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"
