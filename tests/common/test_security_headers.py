"""Headers and cookies (issue 19 item 7): every answer says nosniff, no framing, a same-origin content
policy and no-store; Secure cookies and HSTS outside development; /docs works offline (no CDN); a
caller's correlation id is echoed only when it is a sane one."""

from __future__ import annotations

import re

from tests.conftest import PASSWORDS


async def test_pages_and_api_answers_carry_the_security_headers(start_service, token_for) -> None:
    svc = await start_service("reporting")
    async with svc.as_user(token_for("admin")) as admin:
        for path in ("/dead-letters", "/api/me", "/login"):
            r = await admin.get(path)
            assert r.status_code == 200, (path, r.status_code)
            h = r.headers
            assert h["x-content-type-options"] == "nosniff"
            assert h["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in h["content-security-policy"]
            assert "default-src 'self'" in h["content-security-policy"]
            assert h["cache-control"] == "no-store", path
            assert "strict-transport-security" not in h  # development runs on plain HTTP
        static = await admin.get("/static/common/forms.js")
        assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"
        # the login cookie: HttpOnly, SameSite=Strict, not Secure in development
        login = await svc.client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie


async def test_outside_development_cookies_are_secure_and_hsts_is_sent(start_service) -> None:
    svc = await start_service("reporting", cookie_secure=True)
    login = await svc.client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert login.status_code == 303 and "Secure" in login.headers["set-cookie"]
    assert login.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_swagger_ui_loads_from_the_service_itself(start_service) -> None:
    svc = await start_service("reporting")
    page = await svc.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page.text)
    assert assets and all(a.startswith("/static/docs/") for a in assets), assets
    for asset in assets:
        assert (await svc.client.get(asset)).status_code == 200
    assert (await svc.client.get("/redoc")).status_code == 200


async def test_only_a_sane_correlation_id_is_echoed(start_service) -> None:
    svc = await start_service("reporting")
    ok = await svc.client.get("/healthz", headers={"X-Correlation-ID": "req-42.a:b"})
    assert ok.headers["x-correlation-id"] == "req-42.a:b"
    huge = await svc.client.get("/healthz", headers={"X-Correlation-ID": "x" * 70_000})
    assert len(huge.headers["x-correlation-id"]) == 36  # replaced by a fresh id
    odd = await svc.client.get("/healthz", headers={"X-Correlation-ID": "a b<script>"})
    assert odd.headers["x-correlation-id"] != "a b<script>"
