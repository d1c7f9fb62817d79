"""Input no route should have to think about, refused in words before it reaches one (issue 19 item 9):
an integer in the query or the path beyond what a database column holds (``offset=2**70`` and
``/api/dead-letters/{2**70}/replay`` answered 500), and control
characters in the path, the query or a JSON / form body: NUL (PostgreSQL cannot store it in text: a 500),
the other C0 and C1 controls and DEL (invisible in names and free text, a way to forge log lines and
spreadsheet cells) and lone surrogates (no database encodes them: a 500). Tab, newline and carriage
return pass here, for multi-line free text; single-line fields refuse them in their pydantic types
(``agency_common.validation``)."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from agency_common.validation import control_problem
from agency_common.web.asgi import read_body, replaying

BIGINT = 2**63 - 1
SCAN_BYTES = 1 << 20  # bodies up to 1 MB are scanned (forms and JSON requests); uploads are not
_INTEGER = re.compile(r"[+-]?\d+")
# What may hide a control character in JSON text: an escape of one (or of a surrogate), a raw one, C1 in
# UTF-8. Only a body with one of these is parsed, so ordinary requests cost one scan.
_JSON_SUSPECT = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def _field_problem(name: str, value: str) -> str | None:
    if problem := control_problem(name):
        return f"the field name {name!r}: {problem}"
    if problem := control_problem(value):
        return f"{name}: {problem}"
    return None


def query_problem(query: str) -> str | None:
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        if problem := _field_problem(name, value):
            return problem
        if len(value) > 18 and _INTEGER.fullmatch(value) and abs(int(value)) > BIGINT:
            return f"{name}: the number is too large"
    return None


def path_problem(path: str) -> str | None:
    if problem := control_problem(path):
        return f"the address: {problem}"
    for segment in path.split("/"):  # an id in the path beyond any database integer (a 500 otherwise)
        if len(segment) > 18 and _INTEGER.fullmatch(segment) and abs(int(segment)) > BIGINT:
            return f"the address: the number {segment[:24]}… is too large"
    return None


def _json_problem(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        problem = control_problem(value)
        where = where if len(where) <= 80 else "…" + where[-60:]
        return f"{where or 'the body'}: {problem}" if problem else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        at = f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and (problem := control_problem(key)):
            return f"the field name {at!r}: {problem}"
        if problem := _json_problem(item, at):
            return problem
    return None


def body_problem(content_type: str, body: bytes) -> str | None:
    if content_type.startswith("application/json"):
        if not _JSON_SUSPECT.search(body):
            return None
        try:
            return _json_problem(json.loads(body), "")
        except (ValueError, RecursionError):
            return None  # not JSON (or nested past reason): the route refuses it in its own words
    if content_type.startswith("application/x-www-form-urlencoded"):
        for name, value in parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True,
                                     errors="surrogateescape"):
            if problem := _field_problem(name, value):
                return problem
    return None


class InputGuard:
    """``forms_checked_by_pages``: path prefixes of dashboard pages whose forms check every field
    themselves (the ``validation`` types refuse control characters too) and answer on the form, in
    words, with the input kept: their form bodies are left to them."""

    def __init__(self, app: ASGIApp, forms_checked_by_pages: tuple[str, ...] = ()) -> None:
        self.app = app
        self.forms_checked_by_pages = forms_checked_by_pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        problem = path_problem(scope.get("path", "")) or query_problem(
            scope.get("query_string", b"").decode("utf-8", "surrogateescape"))
        if problem is None and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            content_type = headers.get("content-type", "")
            length = int(headers["content-length"]) if headers.get("content-length", "").isdigit() else None
            own_form = (content_type.startswith("application/x-www-form-urlencoded")
                        and scope.get("path", "").startswith(self.forms_checked_by_pages))
            if (content_type.startswith(("application/json", "application/x-www-form-urlencoded"))
                    and length is not None and length <= SCAN_BYTES and not own_form):
                messages, body = await read_body(receive)
                problem = body_problem(content_type, body)
                receive = replaying(messages, receive)
        if problem is not None:
            return await _refuse(scope, send, problem)
        return await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, problem: str) -> None:
    """422 in words: JSON for the API, a short page for a dashboard form."""
    page = not scope.get("path", "").startswith("/api") and any(
        k == b"accept" and b"text/html" in v for k, v in scope["headers"])
    if page:
        body = (f"<!doctype html><title>Not accepted</title><h1>Not accepted</h1><p>{html.escape(problem)}</p>"
                "<p>Go back, correct it and send it again.</p>").encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": problem}).encode()
        content_type = b"application/json"
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
