"""Idempotency keys for every mutating HTTP request: a repeated click or a client's retry changes nothing twice.

A client sends ``Idempotency-Key: <its own key>`` (a dashboard form sends a hidden ``idempotency_key``
field made when the page was rendered). The first request with a key runs; every later one with the same
key gets the first one's answer back (status, body, ``Location``) with ``Idempotent-Replayed: true``,
without running again. A key reused by another user, or for another request (method, path, body), is
refused with 422.

"Nothing twice" holds at the database, not only in the middleware: the request's first write transaction
(``UnitOfWork``) inserts the key's row in the same transaction as its effect. Two identical requests racing
each other therefore cannot both commit: the second one's insert finds the first one's row, its own
transaction rolls back (``AlreadyApplied``) and it answers with the first one's answer. A route that writes
without the unit of work still gets the key recorded after a successful answer (a repeat is replayed), but
without that transactional guarantee.

One table per service database (``idempotency_keys``, among the messaging tables); rows older than the
retention are purged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import jwt
from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.auth import token_from_request
from agency_common.db.engine import Database
from agency_common.logging import get_logger
from agency_common.timeutil import utcnow

log = get_logger(__name__)

HEADER = "idempotency-key"
FORM_FIELD = "idempotency_key"
MAX_KEY_LENGTH = 200
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_PATHS = frozenset({"/login", "/logout", "/api/auth/token", "/api/auth/refresh", "/api/auth/logout",
                           "/auth/refresh", "/auth/logout"})  # their answer is a cookie or a token
BODY_HASH_LIMIT = 2 * 1024 * 1024  # a larger body is fingerprinted by its type and length
ANSWER_LIMIT = 1024 * 1024  # a larger answer is not kept; its replay says so
KEPT_HEADERS = ("content-type", "location")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AlreadyApplied(Exception):
    """The request's key was committed by another request while this one ran: its work is rolled back."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} already applied")
        self.key = key


@dataclass
class Claim:
    """A request's key, waiting for the request's first write transaction to record it."""

    key: str
    login: str
    fingerprint: str
    method: str
    path: str
    task: asyncio.Task[Any] | None
    claimed: bool = False  # recorded by a committed transaction of the request
    closed: bool = False  # the request has answered: later transactions (jobs it started) claim nothing
    _pending: bool = field(default=False, repr=False)


current_claim: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


def _insert(dialect: str, table: Table) -> Any:
    return (pg_insert(table) if dialect == "postgresql" else sqlite_insert(table))


async def claim_in(session: AsyncSession, table: Table, dialect: str) -> Claim | None:
    """Called by the unit of work at the start of a write transaction: record the request's key in it.
    Raises ``AlreadyApplied`` when another request committed the key first (this one must not apply)."""
    claim = current_claim.get()
    if (claim is None or claim.claimed or claim.closed or claim._pending
            or claim.task is not asyncio.current_task()):
        return None
    stmt = _insert(dialect, table).values(
        key=claim.key, login=claim.login, fingerprint=claim.fingerprint, method=claim.method,
        path=claim.path[:500], created_at=utcnow()).on_conflict_do_nothing().returning(table.c.key)
    if (await session.execute(stmt)).first() is None:
        raise AlreadyApplied(claim.key)
    claim._pending = True
    return claim


def claim_settled(claim: Claim | None, committed: bool) -> None:
    if claim is not None:
        claim._pending = False
        claim.claimed = claim.claimed or committed


@dataclass
class _Answer:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    too_large: bool = False
    started: bool = False


class IdempotencyMiddleware:
    """ASGI middleware; installed on every service's app by ``ServiceRuntime.create_app``."""

    def __init__(self, app: ASGIApp, *, db: Database, table: Table, login_of: Callable[[Scope], str | None],
                 wait_seconds: float = 15.0) -> None:
        self.app = app
        self.db = db
        self.table = table
        self.login_of = login_of
        self.wait_seconds = wait_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or scope["path"] in SESSION_PATHS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get(HEADER, "").strip()
        length = int(headers["content-length"]) if headers.get("content-length", "").isdigit() else None
        body: bytes | None = None
        small = length is not None and length <= BODY_HASH_LIMIT
        form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        # A multipart body's boundary is new on every send: an upload is known by its route alone.
        multipart = headers.get("content-type", "").startswith("multipart/")
        if small and not multipart and (key or form):
            body = await _read_body(receive)
            receive = _replaying(body)
            if not key and form:
                key = (parse_qs(body.decode("latin-1")).get(FORM_FIELD) or [""])[0].strip()
        if not key:
            return await self.app(scope, receive, send)
        if len(key) > MAX_KEY_LENGTH:
            return await _send_json(send, 400, {
                "error": f"the Idempotency-Key is longer than {MAX_KEY_LENGTH} characters"})
        login = self.login_of(scope)
        if login is None:  # not logged in: the route answers 401 or redirects; nothing to remember
            return await self.app(scope, receive, send)
        path = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
        fingerprint = _fingerprint(scope["method"], path, body, "multipart" if multipart else headers.get(
            "content-type", ""), None if multipart else length)
        if (row := await self._row(key)) is not None:
            return await self._replay(row, key, login, fingerprint, send)

        claim = Claim(key, login, fingerprint, scope["method"], path, asyncio.current_task())
        answer = _Answer()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status, answer.headers, answer.started = message["status"], list(message.get("headers", [])), True
            elif message["type"] == "http.response.body" and not answer.too_large:
                answer.body += message.get("body", b"")
                if len(answer.body) > ANSWER_LIMIT:
                    answer.too_large, answer.body = True, bytearray()
            await send(message)

        reset = current_claim.set(claim)
        try:
            await self.app(scope, receive, capture)
        except AlreadyApplied:
            if answer.started:
                raise
            return await self._replay(await self._row(key), key, login, fingerprint, send)
        finally:
            claim.closed = True
            current_claim.reset(reset)
        await self._keep(claim, answer)

    # -- the store --------------------------------------------------------------------------------
    async def _row(self, key: str) -> Any:
        async with self.db.session() as s:
            return (await s.execute(select(self.table).where(self.table.c.key == key))).mappings().first()

    async def _keep(self, claim: Claim, answer: _Answer) -> None:
        """Store the answer beside the key its transaction recorded; a route that wrote without the
        unit of work gets its key recorded now, if it succeeded."""
        kept = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers
                if k.decode("latin-1").lower() in KEPT_HEADERS]
        values = {"status_code": answer.status, "headers": json.dumps(kept)[:4000],
                  "body": None if answer.too_large else bytes(answer.body), "answered_at": utcnow()}
        try:
            async with self.db.transaction() as s:
                if claim.claimed:
                    await s.execute(update(self.table).where(self.table.c.key == claim.key).values(**values))
                elif answer.status < 400:
                    await s.execute(_insert(self.db.dialect, self.table).values(
                        key=claim.key, login=claim.login, fingerprint=claim.fingerprint, method=claim.method,
                        path=claim.path[:500], created_at=utcnow(), **values).on_conflict_do_nothing())
        except Exception as exc:  # noqa: BLE001 - the answer was sent; a repeat then waits, then says so
            log.warning("idempotency answer not kept", key=claim.key, error=str(exc))

    async def _replay(self, row: Any, key: str, login: str, fingerprint: str, send: Send) -> None:
        if row is not None and row["login"] != login:
            return await _send_json(send, 422, {"error": "this Idempotency-Key was already used by another user"})
        if row is not None and row["fingerprint"] != fingerprint:
            return await _send_json(send, 422, {
                "error": f"this Idempotency-Key was already used for another request ({row['method']} {row['path']})"})
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while (row is None or row["answered_at"] is None) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)  # the first request committed and is answering: its answer is moments away
            row = await self._row(key)
        if row is None or row["answered_at"] is None:
            applied = row["created_at"].isoformat() if row is not None else None
            return await _send_json(send, 409, {
                "error": "a request with this Idempotency-Key was already applied; its answer is not available",
                "applied_at": applied})
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row["headers"] or "[]")]
        body = row["body"]
        if body is None:
            body = json.dumps({"replayed": True, "status": row["status_code"],
                               "detail": "the first answer was too large to keep"}).encode()
            headers = [(b"content-type", b"application/json")]
        else:
            body = _marked_replayed(bytes(body), headers)
        headers = [h for h in headers if h[0] != b"content-length"]
        headers += [(b"idempotent-replayed", b"true"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": row["status_code"], "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body)})


def _marked_replayed(body: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """A JSON object answer says ``"replayed": true`` in its body too, as the header does."""
    if not any(k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in headers):
        return body
    try:
        content = json.loads(body)
    except ValueError:
        return body
    return json.dumps({**content, "replayed": True}).encode() if isinstance(content, dict) else body


def _fingerprint(method: str, path: str, body: bytes | None, content_type: str, length: int | None) -> str:
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    if body is not None:
        digest.update(body)
    else:
        digest.update(f"{content_type} {length}".encode())
    return digest.hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def login_from_token(verify: Callable[[str], Any]) -> Callable[[Scope], str | None]:
    """The user a request's bearer token or login cookie names (None without a valid one)."""
    from starlette.requests import Request

    def login_of(scope: Scope) -> str | None:
        token = token_from_request(Request(scope))
        if not token:
            return None
        try:
            return verify(token).login
        except jwt.PyJWTError:
            return None

    return login_of


async def purge(db: Database, table: Table, keep: timedelta) -> int:
    async with db.transaction() as s:
        result = await s.execute(delete(table).where(table.c.created_at < utcnow() - keep))
    return result.rowcount or 0
