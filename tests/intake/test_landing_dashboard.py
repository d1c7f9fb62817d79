"""intake's ``/`` answers every signed-in user (issue 20: licensing landed there after login and got a
403): the book of business for those who may see it, as before; anyone else goes on to the first
intake page they may see; a user who may see none reads, in words, what their groups allow and that an
administrator grants access."""

from __future__ import annotations

import html

import pytest
from agency_common.auth import TokenService, User

from tests.conftest import JWT_SECRET


def token(*permissions: str, groups: tuple[str, ...] = ("custom",)) -> str:
    """A login whose groups hold exactly these permissions (no such group in the default set)."""
    return TokenService(JWT_SECRET).issue(User(login="someone", groups=groups, permissions=frozenset(permissions)))


async def test_the_book_of_business_for_those_who_may_see_it(start_service, token_for) -> None:
    intake = await start_service("intake")
    for login in ("clerk", "sales", "admin"):
        async with intake.as_user(token_for(login)) as c:
            r = await c.get("/")
            assert r.status_code == 200 and "<h1>Book of business</h1>" in r.text, login


@pytest.mark.parametrize(("permissions", "page"), [
    (("statements:view", "individuals:view"), "/statements"),
    (("individuals:view", "carriers:view"), "/individuals"),
    (("sales_enablement:view",), "/sales-records"),
    (("carriers:view", "reports:view"), "/carriers"),
])
async def test_anyone_else_goes_on_to_the_first_page_they_may_see(start_service, permissions, page) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token(*permissions)) as c:
        r = await c.get("/")
        assert (r.status_code, r.headers["location"]) == (303, page)
        assert (await c.get(page)).status_code == 200, "a page they may see indeed"


async def test_a_user_who_may_see_no_intake_page_reads_why(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("licensing")) as c:
        r = await c.get("/")
    assert r.status_code == 403
    text = html.unescape(r.text)
    assert "Your groups (licensing) allow" in text and "producers:view" in text
    assert "None of that opens a page of intake" in text
    assert "An administrator grants access" in text and "statements:view" in text
    async with intake.as_user(token_for("viewer")) as c:
        r = await c.get("/")
    assert r.status_code == 403 and "You are in no group yet" in html.unescape(r.text)
    r = await intake.client.get("/")  # not signed in
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
