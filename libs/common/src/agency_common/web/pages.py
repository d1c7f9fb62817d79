"""Dashboard pages: who is logged in (a missing login goes to the login page), what they may see,
and rendering a template with the navigation every page has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from agency_common.auth import COOKIE_NAME, User, token_from_request
from agency_common.web.csrf import csrf_token

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime


class LoginRequired(Exception):
    """No valid access token: the browser goes to the login page, or, when it holds an expired (or
    revoked) one, to the refresh route (its refresh cookie is sent there only), which sends it back
    with a new access cookie or on to the login page."""

    def __init__(self, next_url: str, refresh: bool = False) -> None:
        self.next_url = next_url
        self.refresh = refresh


def dashboard_user(request: Request) -> User:
    """Dashboard pages: a missing, expired or revoked access token sends the browser to the refresh
    route, then back here (or to the login page when the session has ended)."""
    runtime: ServiceRuntime = request.app.state.runtime
    token = token_from_request(request)
    if token:
        try:
            user = runtime.tokens.verify(token)
            request.state.user = user
            return user
        except jwt.PyJWTError:  # expired, revoked or forged: refresh, else log in again
            pass
    # the access cookie lives as long as the session: without one there is nothing to refresh
    raise LoginRequired(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
                        refresh=token is not None)


DashboardUser = Annotated[User, Depends(dashboard_user)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.templates.TemplateResponse(
        request,
        template,
        {
            "service": runtime.name,
            "title": runtime.title,
            "nav": runtime.nav,
            "user": getattr(request.state, "user", None),
            "dashboards": runtime.settings.dashboard_links(),
            "csrf_token": csrf_token(runtime.settings.jwt_secret.get_secret_value(),
                                     runtime.tokens.session_of(request.cookies.get(COOKIE_NAME))) or "",
            **context,
        },
        status_code=status_code,
    )


class PageForbidden(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


def page_permission(*permissions: str) -> Any:
    """Dashboard pages: no login sends the browser to the login page; a login without every
    permission given gets a 403 page that names what is missing."""

    def dependency(user: Annotated[User, Depends(dashboard_user)]) -> User:
        missing = [p for p in permissions if not user.can(p)]
        if missing:
            raise PageForbidden(missing)
        return user

    dependency.required_permissions = permissions  # type: ignore[attr-defined]  # read by the route audit
    return Depends(dependency)


