"""Cross-site request forgery (ASVS V4.2.2, V3.5): a dashboard request that changes something and is
authenticated by the login cookie must come from this origin (``Origin``, else ``Referer``) and carry
the session's CSRF token (form field ``csrf_token``, put first in every POST form by ``forms.js``, or
header ``X-CSRF-Token`` for htmx). A bearer-token API call is not forgeable by a browser and is not
checked; a login form posted from another origin is refused (login CSRF).

The token is an HMAC of the login session's id (the ``sid`` claim of the access cookie): nothing to
store, it changes with every login and stays the same while the session's access token is refreshed
(a page shown before a refresh still posts).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from agency_common.auth import COOKIE_NAME
from agency_common.web.asgi import read_body, replaying

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FIELD = "csrf_token"
HEADER = "x-csrf-token"
PEEK_BYTES = 64 * 1024  # the token is the first part of a multipart form: never read the upload itself


def csrf_token(secret: str, session_id: str | None) -> str | None:
    """The CSRF token of a login session (``TokenService.session_of`` of its access cookie)."""
    if not session_id:
        return None
    return hmac.new(secret.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()[:40]


def _origin(url: str | None) -> str | None:
    """The host[:port] a URL names (the scheme is left out: TLS usually ends at the ingress, so the
    service sees http while the browser says https)."""
    if not url or url == "null":
        return None
    parts = urlsplit(url)
    return parts.netloc.lower() if parts.scheme and parts.netloc else None


class CsrfMiddleware:
    def __init__(self, app: ASGIApp, *, secret: str, session_of: Callable[[str | None], str | None],
                 trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.secret = secret
        self.session_of = session_of
        self.trusted = {_origin(o) for o in trusted_origins if _origin(o)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            return await self.app(scope, receive, send)
        request = Request(scope)
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return await self.app(scope, receive, send)
        session = request.cookies.get(COOKIE_NAME)
        is_login = scope["path"] == "/login"
        if session is None and not is_login:
            return await self.app(scope, receive, send)  # not authenticated: the route answers 401/303
        origin = _origin(request.headers.get("origin")) or _origin(request.headers.get("referer"))
        if not self._same_site(request, origin) and (origin is not None or not is_login):
            return await _refuse(send, "This request came from another site and was refused.")
        if is_login:  # this origin (or a client that sends none): the login's own check is the password
            return await self.app(scope, receive, send)
        expected = csrf_token(self.secret, self.session_of(session))
        given = request.headers.get(HEADER)
        if given is None:
            given, receive = await _form_token(request, receive)
        if not given or not hmac.compare_digest(given, expected or ""):
            return await _refuse(send, "This form has expired or did not come from this site: reload the page and try again.")
        return await self.app(scope, receive, send)

    def _same_site(self, request: Request, origin: str | None) -> bool:
        if origin is None:
            return False
        own = request.headers.get("host", request.url.netloc).lower()
        return origin == own or origin in self.trusted


async def _form_token(request: Request, receive: Receive) -> tuple[str | None, Receive]:
    """The ``csrf_token`` field of a form body, reading no more than the first 64 KB of it; the
    returned ``receive`` gives the application the whole body again."""
    content_type = request.headers.get("content-type", "")
    urlencoded = content_type.startswith("application/x-www-form-urlencoded")
    # a urlencoded form is small: read it whole
    messages, body = await read_body(receive, None if urlencoded else PEEK_BYTES)
    token: str | None = None
    if urlencoded:
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD)
        token = values[0] if values else None
    elif content_type.startswith("multipart/form-data"):
        match = re.search(rb'name="csrf_token"\r\n(?:[^\r\n]+\r\n)*\r\n([0-9a-f]{1,64})\r\n', body)
        token = match.group(1).decode() if match else None
    return token, replaying(messages, receive)


async def _refuse(send: Send, message: str) -> None:
    body = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Refused</title></head>"
            f"<body><p role=\"alert\">{message}</p><p><a href=\"/\">Home</a></p></body></html>").encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
