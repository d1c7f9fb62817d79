"""Input no route should have to think about, refused in words before it reaches one (issue 19 item 9):
an integer in the query beyond what a database column holds (``offset=2**70`` answered 500), and NUL
characters in a query or a JSON / form body (PostgreSQL cannot store them in text: another 500)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from agency_common.web.asgi import read_body, replaying

BIGINT = 2**63 - 1
SCAN_BYTES = 1 << 20  # bodies up to 1 MB are scanned (forms and JSON requests); uploads are not
_INTEGER = re.compile(r"[+-]?\d+")


def query_problem(query: str) -> str | None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"{name}: NUL characters are not accepted"
        if len(value) > 18 and _INTEGER.fullmatch(value) and abs(int(value)) > BIGINT:
            return f"{name}: the number is too large"
    return None


def body_problem(content_type: str, body: bytes) -> str | None:
    json_nul = content_type.startswith("application/json") and (b"\\u0000" in body or b"\x00" in body)
    form_nul = content_type.startswith("application/x-www-form-urlencoded") and (b"%00" in body or b"\x00" in body)
    return "NUL characters are not accepted" if json_nul or form_nul else None


class InputGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        problem = query_problem(scope.get("query_string", b"").decode("latin-1"))
        if problem is None and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            content_type = headers.get("content-type", "")
            length = int(headers["content-length"]) if headers.get("content-length", "").isdigit() else None
            if (content_type.startswith(("application/json", "application/x-www-form-urlencoded"))
                    and length is not None and length <= SCAN_BYTES):
                messages, body = await read_body(receive)
                problem = body_problem(content_type, body)
                receive = replaying(messages, receive)
        if problem is not None:
            return await _refuse(send, problem)
        return await self.app(scope, receive, send)


async def _refuse(send: Send, problem: str) -> None:
    body = json.dumps({"detail": problem}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
