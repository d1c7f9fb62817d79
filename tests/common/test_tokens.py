"""Tokens (issue 19 item 5): short-lived access tokens with rotating refresh tokens that re-read the
user, the dashboard refreshed without a visible logout, revocation on logout seen by every service
through Kafka, EdDSA keys with a kid and rotation; the password policy (item 3)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import jwt
import pytest
import yaml
from agency_common.auth import (
    COOKIE_NAME,
    REFRESH_COOKIE,
    DenyList,
    TokenKeys,
    TokenService,
    User,
    UserDirectory,
    password_problems,
)
from agency_platform.launcher import DEFAULT_GROUPS, write_users_file

from tests.conftest import JWT_SECRET, PASSWORDS
from tests.support.inprocess import eventually

ORIGIN = "http://testserver"


def _directory(tmp_path: Path, groups: dict[str, list[str]]) -> UserDirectory:
    path = tmp_path / "users.yaml"
    write_users_file(path, {login: "a-long-password-1" for login in groups}, DEFAULT_GROUPS, groups)
    return UserDirectory.from_file(path)


def _user(directory: UserDirectory, login: str) -> User:
    rec = directory.users[login]
    return User(rec.login, rec.name, rec.groups, directory.permissions_of(rec))


# -- refresh and rotation (pure: no service) ----------------------------------------------------------
def test_a_refresh_rotates_the_refresh_token_and_a_second_use_ends_the_session(tmp_path: Path) -> None:
    tokens = TokenService(JWT_SECRET, ttl_minutes=15)
    directory = _directory(tmp_path, {"ann": ["accounting"]})
    first = tokens.issue_pair(_user(directory, "ann"))
    assert tokens.verify(first.access_token).login == "ann"
    with pytest.raises(jwt.InvalidTokenError):  # a refresh token is no bearer token
        tokens.verify(first.refresh_token)

    second = tokens.refresh(first.refresh_token, directory)
    assert second.session_id == first.session_id and second.refresh_token != first.refresh_token
    assert tokens.verify(second.access_token).can("statements:import")
    # the spent refresh token is refused, and its reuse (a stolen copy?) ends the whole session
    with pytest.raises(jwt.InvalidTokenError, match="revoked"):
        tokens.refresh(first.refresh_token, directory)
    with pytest.raises(jwt.InvalidTokenError, match="revoked"):
        tokens.refresh(second.refresh_token, directory)
    with pytest.raises(jwt.InvalidTokenError, match="revoked"):
        tokens.verify(second.access_token)


def test_a_refresh_reads_the_user_again_removed_users_and_changed_groups_take_effect(tmp_path: Path) -> None:
    tokens = TokenService(JWT_SECRET, ttl_minutes=15)
    directory = _directory(tmp_path, {"ann": ["accounting"], "bob": ["accounting"]})
    ann, bob = tokens.issue_pair(_user(directory, "ann")), tokens.issue_pair(_user(directory, "bob"))
    data = yaml.safe_load(directory.path.read_text())  # type: ignore[union-attr]
    data["users"] = [dict(u, groups=["licensing"]) for u in data["users"] if u["login"] == "ann"]
    directory.path.write_text(yaml.safe_dump(data))  # type: ignore[union-attr]
    now = directory.current()
    assert set(now.users) == {"ann"}

    ann_now = tokens.verify(tokens.refresh(ann.refresh_token, now).access_token)
    assert ann_now.groups == ("licensing",) and not ann_now.can("statements:import")
    with pytest.raises(jwt.InvalidTokenError, match="no longer exists"):
        tokens.refresh(bob.refresh_token, now)
    with pytest.raises(jwt.InvalidTokenError, match="revoked"):  # and the removed user's session is over
        tokens.verify(bob.access_token)


def test_a_password_change_ends_the_sessions_started_before_it(tmp_path: Path) -> None:
    from agency_platform.launcher import add_user

    tokens = TokenService(JWT_SECRET, ttl_minutes=15)
    directory = _directory(tmp_path, {"ann": ["accounting"]})
    before = tokens.issue_pair(_user(directory, "ann"), credential=directory.credential_of("ann"))
    kept = tokens.refresh(before.refresh_token, directory)  # the same password: refreshed
    add_user(directory.path, "ann", "a-new-long-passphrase", ["accounting"])  # type: ignore[arg-type]
    with pytest.raises(jwt.InvalidTokenError, match="password has changed"):
        tokens.refresh(kept.refresh_token, directory.current())


def test_the_deny_list_forgets_what_has_expired_anyway() -> None:
    now = [1000.0]
    deny = DenyList(clock=lambda: now[0])
    deny.add("a", 1100.0)
    deny.add("b", 900.0)  # expired already: never kept
    assert deny.revoked("a") and not deny.revoked("b") and len(deny) == 1
    now[0] = 1200.0
    assert not deny.revoked("a") and len(deny) == 0


# -- keys ------------------------------------------------------------------------------------------------
def test_tokens_are_eddsa_with_a_kid_and_a_key_rotates_without_logging_anyone_out() -> None:
    old_private, old_public = TokenKeys.generate("2026-01")
    new_private, new_public = TokenKeys.generate("2026-02")
    before = TokenService(keys=TokenKeys.parse(old_private))
    token = before.issue(User("ann"))
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "2026-01", "typ": "JWT"}

    # the new key signs; the old public key still verifies the tokens it signed
    after = TokenService(keys=TokenKeys.parse(new_private, old_public))
    assert after.verify(token).login == "ann"
    assert jwt.get_unverified_header(after.issue(User("ann")))["kid"] == "2026-02"
    # once the old key is dropped, its tokens are refused
    with pytest.raises(jwt.InvalidSignatureError):
        TokenService(keys=TokenKeys.parse(new_private)).verify(token)

    # a verify-only service: public keys only; it verifies and cannot sign
    verifier = TokenService(keys=TokenKeys.parse(None, f"{old_public},{new_public}"))
    assert verifier.verify(token).login == "ann" and not verifier.can_sign
    with pytest.raises(Exception, match="only public keys"):
        verifier.issue(User("ann"))
    # HS256 with anything, or none at all, is never accepted
    for forged in (jwt.encode({"sub": "ann", "iss": "agency-platform", "exp": 9999999999, "jti": "x"}, "k" * 40,
                              algorithm="HS256", headers={"kid": "2026-01"}),
                   jwt.encode({"sub": "ann", "iss": "agency-platform", "exp": 9999999999, "jti": "x"}, None,
                              algorithm="none", headers={"kid": "2026-01"})):
        with pytest.raises(jwt.InvalidTokenError):
            verifier.verify(forged)


def test_settings_refuse_tokens_without_keys_outside_development() -> None:
    from agency_common.settings import ServiceSettings

    with pytest.raises(ValueError, match="tokens need keys"):
        ServiceSettings(environment="production", jwt_secret="p" * 40)
    private, public = TokenKeys.generate()
    assert ServiceSettings(environment="production", jwt_secret="p" * 40, jwt_signing_key=private).token_keys().signing
    verify_only = ServiceSettings(environment="production", jwt_secret="p" * 40, jwt_verify_keys=public)
    assert verify_only.token_keys().signing is None
    with pytest.raises(ValueError, match="base64url|kid"):
        ServiceSettings(jwt_signing_key="not a key")


# -- the password policy ------------------------------------------------------------------------------------
def test_the_password_policy_refuses_short_common_and_login_passwords(tmp_path: Path) -> None:
    assert password_problems("ann", "correct horse battery") == []
    assert "at least 12 characters" in password_problems("ann", "short-1")[0]
    assert password_problems("margaret", "Margaret-2026!") == ["a password must not be or contain the login"]
    assert password_problems("ann", "Password1234") == ["this password is too common"]
    assert password_problems("ann", "aaaaaaaaaaaaaaab") == ["this password is too common"]

    from agency_platform.launcher import add_user

    users = tmp_path / "users.yaml"
    write_users_file(users, {"admin": "an-admin-password-1"})
    with pytest.raises(ValueError, match="at least 12 characters"):
        add_user(users, "carol", "short", ["accounting"])
    with pytest.raises(ValueError, match="unknown group"):
        add_user(users, "carol", "a-good-long-passphrase", ["nope"])
    add_user(users, "carol", "a-good-long-passphrase", ["accounting"])
    assert UserDirectory.from_file(users).authenticate("carol", "a-good-long-passphrase") is not None


# -- a service: API refresh, the dashboard refreshed transparently ---------------------------------------------
async def test_the_api_logs_in_with_a_short_access_token_and_a_rotating_refresh_token(start_service) -> None:
    svc = await start_service("reporting")
    r = await svc.client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert r.status_code == 200, r.text
    login = r.json()
    assert login["expires_in"] == 15 * 60 and login["refresh_expires_in"] > 7 * 3600
    r = await svc.client.post("/api/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert r.status_code == 200, r.text
    again = r.json()
    async with svc.as_user(again["access_token"]) as api:
        assert (await api.get("/api/me")).json()["login"] == "clerk"
    reused = await svc.client.post("/api/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert reused.status_code == 401 and "revoked" in reused.json()["detail"]
    # a refresh token is not a bearer token
    async with svc.as_user(again["refresh_token"]) as api:
        assert (await api.get("/api/me")).status_code == 401


async def test_the_dashboard_refreshes_an_expired_access_cookie_without_a_visible_logout(start_service) -> None:
    svc = await start_service("reporting")
    browser = httpx.AsyncClient(transport=svc.client._transport, base_url=ORIGIN, timeout=60)
    try:
        r = await browser.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
        assert r.status_code == 303
        refresh_cookies = [c for c in browser.cookies.jar if c.name == REFRESH_COOKIE]
        assert [c.path for c in refresh_cookies] == ["/auth"]  # sent to the refresh route only
        page = await browser.get("/team-screens")
        csrf = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text).group(1)  # type: ignore[union-attr]
        tokens = svc.runtime.tokens
        sid = tokens.session_of(browser.cookies.get(COOKIE_NAME))

        def expire_access_cookie() -> None:
            expired = TokenService(keys=tokens.keys, ttl_minutes=-1).issue(User("admin"), session_id=sid)
            browser.cookies.set(COOKIE_NAME, expired, domain="testserver.local", path="/")

        # a page: through the refresh route and back, with a new access cookie
        expire_access_cookie()
        r = await browser.get("/team-screens", follow_redirects=True)
        assert r.status_code == 200 and "/login" not in str(r.url), r.url
        assert [h.headers["location"].split("?")[0] for h in r.history] == ["/auth/refresh", "/team-screens"]
        assert tokens.verify(browser.cookies.get(COOKIE_NAME)).login == "admin"
        # a form posted with an expired access cookie: posted again after the refresh, its CSRF token
        # (bound to the session, not to the access token) still good
        expire_access_cookie()
        r = await browser.post("/team-screens/calculate", data={"csrf_token": csrf}, headers={"Origin": ORIGIN},
                               follow_redirects=True)
        assert r.status_code == 200 and "/login" not in str(r.url), (r.url, r.text[:300])
        assert [h.status_code for h in r.history][:2] == [307, 307]

        # logged out: the refresh is refused, the browser lands on the login page
        await browser.post("/logout", data={"csrf_token": csrf}, headers={"Origin": ORIGIN})
        r = await browser.get("/team-screens", follow_redirects=True)
        assert r.url.path == "/login"
    finally:
        await browser.aclose()


# -- revocation seen by every service, through Kafka -----------------------------------------------------------
async def test_a_logout_revokes_the_tokens_on_every_service(start_service) -> None:
    intake = await start_service("intake")
    reporting = await start_service("reporting")
    r = await intake.client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    login = r.json()
    async with intake.as_user(login["access_token"]) as on_intake, \
            reporting.as_user(login["access_token"]) as on_reporting:
        assert (await on_reporting.get("/api/me")).status_code == 200
        r = await on_intake.post("/api/auth/logout", json={"refresh_token": login["refresh_token"]})
        assert r.status_code == 204, r.text
        assert (await on_intake.get("/api/me")).status_code == 401  # here at once
        await eventually(lambda: _status(on_reporting, "/api/me", 401), message="reporting refuses the token")
        r = await on_reporting.get("/api/me")
        assert r.json()["detail"] == "invalid or expired token"
    refused = await reporting.client.post("/api/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert refused.status_code == 401

    # a service started afterwards reads the revocations still in force before it answers for them
    late = await start_service("invoicing")
    await eventually(late.runtime.revocations.caught_up.is_set, message="revocations read back")
    async with late.as_user(login["access_token"]) as on_late:
        assert (await on_late.get("/api/me")).status_code == 401


async def test_a_verify_only_service_accepts_tokens_but_issues_none(start_service, token_for) -> None:
    # the public half of what the other services (and token_for) sign with
    verify_keys = TokenKeys.derived(JWT_SECRET).verifying_text()
    svc = await start_service("reporting", jwt_signing_key=None, jwt_verify_keys=verify_keys)
    assert not svc.runtime.tokens.can_sign
    async with svc.as_user(token_for("clerk")) as api:
        assert (await api.get("/api/me")).json()["login"] == "clerk"
    r = await svc.client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert r.status_code == 503 and "only verifies" in r.json()["detail"]
    page = await svc.client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert page.status_code == 503 and "does not issue logins" in page.text


async def _status(client: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status
