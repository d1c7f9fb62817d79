"""The one HTTP dialect of agency_common.web: runtime and session as dependencies, a use case's
refusal answered by one handler (JSON for the API, a page for the dashboard), page permissions that
name what is missing; and the one chunks helper."""

from __future__ import annotations

from typing import Annotated

import pytest
from agency_common.auth import User, require
from agency_common.batching import chunks
from agency_common.errors import Conflict, Invalid, NotFound
from agency_common.web.deps import Runtime, Session
from agency_common.web.pages import page_permission
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import text

router = APIRouter()


@router.get("/api/dialect/{what}")
async def refuse(what: str, session: Session, runtime: Runtime,
                 _user: Annotated[User, require("reports:view")]) -> dict[str, object]:
    assert (await session.execute(text("select 1"))).scalar() == 1
    if what == "missing":
        raise NotFound("no such thing: 7")
    if what == "stale":
        raise Conflict("changed by someone else", version=3)
    if what == "bad":
        raise Invalid("2 rows in error", errors={"1": "premium: not a number"})
    return {"service": runtime.name}


@router.get("/dialect/page", response_class=HTMLResponse)
async def page(user: Annotated[User, page_permission("reports:view")]) -> str:
    if user.login == "nobody-here":
        raise NotFound("never")
    return "<p>ok</p>"


@router.get("/dialect/missing-page", response_class=HTMLResponse)
async def missing_page(_user: Annotated[User, page_permission("reports:view")]) -> str:
    raise NotFound("That team screen does not exist.")


async def test_refusals_are_answered_by_one_handler(start_service, token_for) -> None:
    reporting = await start_service("reporting")
    reporting.app.include_router(router)
    async with reporting.as_user(token_for("admin")) as manager:
        ok = await manager.get("/api/dialect/fine")
        assert ok.status_code == 200 and ok.json() == {"service": "reporting"}
        missing = await manager.get("/api/dialect/missing")
        assert missing.status_code == 404 and missing.json() == {"detail": "no such thing: 7"}
        stale = await manager.get("/api/dialect/stale")
        assert stale.status_code == 409
        assert stale.json() == {"detail": {"error": "changed by someone else", "version": 3}}
        bad = await manager.get("/api/dialect/bad")
        assert bad.status_code == 422 and bad.json()["detail"]["errors"] == {"1": "premium: not a number"}
        # a dashboard page gets its refusal as a page in words, not JSON
        gone = await manager.get("/dialect/missing-page", headers={"Accept": "text/html"})
        assert gone.status_code == 404 and "That team screen does not exist." in gone.text
        assert gone.headers["content-type"].startswith("text/html")


async def test_page_permission_names_what_is_missing_and_sends_strangers_to_login(start_service, token_for) -> None:
    reporting = await start_service("reporting")
    reporting.app.include_router(router)
    async with reporting.as_user(token_for("admin")) as manager, reporting.as_user(token_for("viewer")) as sales:
        assert (await manager.get("/dialect/page")).status_code == 200
        denied = await sales.get("/dialect/page")
        assert denied.status_code == 403 and "You do not have the reports:view permission." in denied.text
    anonymous = await reporting.client.get("/dialect/page")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")


def test_chunks_slice_sequences_and_read_iterables_lazily() -> None:
    assert [list(c) for c in chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert list(chunks([], 3)) == []
    read: list[int] = []

    def rows():
        for i in range(7):
            read.append(i)
            yield i

    it = chunks(rows(), 3)
    assert next(it) == [0, 1, 2] and read == [0, 1, 2]  # not all 7 read for the first chunk
    assert [list(c) for c in it] == [[3, 4, 5], [6]]
    try:
        list(chunks([1], 0))
    except ValueError as exc:
        assert "at least 1" in str(exc)
    else:
        raise AssertionError("a chunk size of 0 must be refused")


@router.get("/api/dialect-db/{what}")
async def read_db(what: str, session: Session, _user: Annotated[User, require("reports:view")]) -> dict[str, int]:
    table = "no_such_table" if what == "bug" else "outbox"
    return {"rows": (await session.execute(text(f"select count(*) from {table}"))).scalar_one()}


@router.get("/dialect-db/page", response_class=HTMLResponse)
async def read_db_page(session: Session, _user: Annotated[User, page_permission("reports:view")]) -> str:
    return f"<p>{(await session.execute(text('select count(*) from outbox'))).scalar_one()}</p>"


async def test_a_database_that_cannot_answer_is_a_503_to_try_again(start_service, token_for) -> None:
    """Issue 20: the database down (or SQLite's file unreachable) answers 503 with Retry-After, in words
    on a page; a query that is simply wrong stays a server error, not a 503."""
    from agency_common.db.engine import Database
    from sqlalchemy.exc import DBAPIError

    from tests.support.databases import using_postgres

    reporting = await start_service("reporting")
    reporting.app.include_router(router)
    runtime = reporting.runtime
    async with reporting.as_user(token_for("admin")) as manager:
        assert (await manager.get("/api/dialect-db/fine")).status_code == 200
        with pytest.raises(DBAPIError):  # a bug: the server's 500 (raised through the test client)
            await manager.get("/api/dialect-db/bug")
        working = runtime.db
        runtime.db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/gone" if using_postgres()
                              else "sqlite+aiosqlite:////no-such-folder/gone.db")
        try:
            down = await manager.get("/api/dialect-db/fine")
            assert down.status_code == 503 and down.headers["retry-after"] == "5"
            assert "try again" in down.json()["detail"]
            page = await manager.get("/dialect-db/page", headers={"Accept": "text/html"})
            assert page.status_code == 503 and "not available" in page.text
        finally:
            await runtime.db.dispose()
            runtime.db = working
        assert (await manager.get("/api/dialect-db/fine")).status_code == 200, "answers again once it is back"
