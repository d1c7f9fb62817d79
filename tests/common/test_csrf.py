"""CSRF (issue 19 item 4): a dashboard request authenticated by the login cookie that changes something
must come from this origin and carry the session's CSRF token (first field of the form, or the
X-CSRF-Token header); a bearer-token API call is not checked; a login posted from another site is refused."""

from __future__ import annotations

import re

import httpx

from tests.conftest import PASSWORDS

ORIGIN = "http://testserver"


async def _browser(svc) -> tuple[httpx.AsyncClient, str]:
    """A cookie-holding client logged in through the login form, and the CSRF token its pages carry."""
    browser = httpx.AsyncClient(transport=svc.client._transport, base_url=ORIGIN, timeout=60)
    r = await browser.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert r.status_code == 303, r.text
    page = await browser.get("/team-screens")
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert token, "the page carries no CSRF token"
    return browser, token.group(1)


async def test_a_forged_dashboard_post_is_refused_and_a_real_one_passes(start_service, token_for) -> None:
    svc = await start_service("reporting")
    browser, token = await _browser(svc)
    try:
        # no Origin or Referer at all, or another site's: refused
        assert (await browser.post("/team-screens/calculate", data={"csrf_token": token})).status_code == 403
        evil = await browser.post("/team-screens/calculate", data={"csrf_token": token},
                                  headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403 and "another site" in evil.text
        # this origin without the token, or with a wrong one: refused
        assert (await browser.post("/team-screens/calculate", headers={"Origin": ORIGIN})).status_code == 403
        wrong = await browser.post("/team-screens/calculate", data={"csrf_token": "0" * 40}, headers={"Origin": ORIGIN})
        assert wrong.status_code == 403 and "reload the page" in wrong.text
        # this origin with the token: the form works (a form, a multipart form, an htmx header)
        ok = await browser.post("/team-screens/calculate", data={"csrf_token": token}, headers={"Origin": ORIGIN})
        assert ok.status_code in (200, 303), ok.text
        multi = await browser.post("/team-screens/calculate", data={"csrf_token": token},
                                   files={"file": ("x.csv", b"a,b\n" * 50_000, "text/csv")},
                                   headers={"Referer": f"{ORIGIN}/team-screens"})
        assert multi.status_code in (200, 303), multi.text
        htmx = await browser.post("/team-screens/calculate", headers={"Origin": ORIGIN, "X-CSRF-Token": token})
        assert htmx.status_code in (200, 303), htmx.text
        # the token belongs to this login: after logging in again the old one no longer works
        await browser.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]},
                           headers={"Origin": ORIGIN})
        stale = await browser.post("/team-screens/calculate", data={"csrf_token": token}, headers={"Origin": ORIGIN})
        assert stale.status_code == 403
    finally:
        await browser.aclose()

    # an API client with a bearer token is not a browser: not checked
    async with svc.as_user(token_for("admin")) as api:
        assert (await api.post("/team-screens/calculate")).status_code in (200, 303)


async def test_a_login_form_posted_from_another_site_is_refused(start_service) -> None:
    svc = await start_service("reporting")
    r = await svc.client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]},
                              headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    ok = await svc.client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]},
                               headers={"Origin": ORIGIN})
    assert ok.status_code == 303 and "set-cookie" in ok.headers
