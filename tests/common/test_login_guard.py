"""Login throttling (issue 19 item 3): a login locked after repeated failures with back-off, an address
refused after too many failures, the password hashed off the event loop, every attempt counted and logged."""

from __future__ import annotations

import threading

import pytest
from agency_common.auth import UserDirectory, hash_password
from agency_common.login_guard import LoginGuard, LoginPolicy, Throttled

from tests.conftest import PASSWORDS
from tests.support.inprocess import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_login_is_locked_after_five_failures_and_the_lockout_doubles() -> None:
    clock = Clock()
    guard = LoginGuard(LoginPolicy(lockout_seconds=30, lockout_max_seconds=100), clock=clock)
    for _ in range(4):
        guard.check("ann", "10.0.0.1")
        guard.failed("ann", "10.0.0.1")
    guard.check("ANN", "10.0.0.2")  # four failures: still allowed (logins compare case-insensitively)
    guard.failed("Ann", "10.0.0.2")
    with pytest.raises(Throttled) as locked:
        guard.check("ann", "10.0.0.3")  # from any address
    assert locked.value.retry_after == 30 and "try again in 30 s" in locked.value.message()
    guard.check("bob", "10.0.0.3")  # another login is not locked
    clock.now += 31
    guard.check("ann", "10.0.0.1")
    guard.failed("ann", "10.0.0.1")  # the sixth failure doubles it
    with pytest.raises(Throttled) as again:
        guard.check("ann", "10.0.0.1")
    assert again.value.retry_after == 60
    clock.now += 61
    guard.failed("ann", "10.0.0.1")
    with pytest.raises(Throttled) as capped:
        guard.check("ann", "10.0.0.1")
    assert capped.value.retry_after == 100  # never beyond the maximum
    clock.now += 101
    guard.succeeded("ann")  # a success forgets the failures
    guard.failed("ann", "10.0.0.1")
    guard.check("ann", "10.0.0.1")


def test_an_address_is_refused_after_too_many_failures_in_its_window() -> None:
    clock = Clock()
    guard = LoginGuard(LoginPolicy(failures_per_address=3, address_window_seconds=60), clock=clock)
    for n in range(3):
        guard.failed(f"user{n}", "10.9.9.9")  # a different login each time: no login lockout
        clock.now += 1
    with pytest.raises(Throttled) as refused:
        guard.check("someone", "10.9.9.9")
    assert refused.value.reason == "address rate limited" and refused.value.retry_after == 57
    guard.check("someone", "10.9.9.8")  # another address is not
    clock.now += 57
    guard.check("someone", "10.9.9.9")  # the oldest failure left the window


async def test_the_password_is_checked_off_the_event_loop() -> None:
    users = UserDirectory.from_dict({"groups": {"g": []}, "users": [
        {"login": "ann", "password_hash": hash_password("right-password-1"), "groups": ["g"]}]})
    threads: list[int] = []
    real = users.authenticate

    def recording(login: str, password: str):
        threads.append(threading.get_ident())
        return real(login, password)

    users.authenticate = recording  # type: ignore[method-assign]
    guard = LoginGuard()
    assert (await guard.authenticate(users, "ann", "right-password-1")).login == "ann"
    assert await guard.authenticate(users, "ann", "wrong") is None
    assert threads and threading.get_ident() not in threads


async def test_the_login_routes_lock_a_guessed_login_and_say_when_to_retry(start_service) -> None:
    svc = await start_service("reporting", login_lockout_seconds=1.0, login_failures_per_address=50)
    client = svc.client
    for _ in range(5):
        r = await client.post("/api/auth/token", data={"username": "clerk", "password": "guess"})
        assert r.status_code == 401
    # locked: even the right password is refused, with when to retry, on the API and the page
    r = await client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    assert "Too many failed logins" in r.json()["detail"]
    page = await client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert page.status_code == 429 and "Too many failed logins" in page.text
    # another user is not affected
    assert (await client.post("/api/auth/token", data={"username": "admin", "password": PASSWORDS["admin"]})).status_code == 200

    async def unlocked() -> bool:
        r = await client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORDS["clerk"]})
        return r.status_code == 200

    await eventually(unlocked, timeout=30, interval=0.5)
    metrics = (await client.get("/metrics")).text
    assert 'logins_total{outcome="wrong"} 5.0' in metrics
    assert 'logins_total{outcome="throttled"}' in metrics and 'logins_total{outcome="ok"}' in metrics


async def test_an_address_guessing_many_logins_is_refused(start_service) -> None:
    svc = await start_service("reporting", login_failures_per_address=4)
    for n in range(4):
        r = await svc.client.post("/api/auth/token", data={"username": f"nobody{n}", "password": "x"})
        assert r.status_code == 401
    r = await svc.client.post("/api/auth/token", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert r.status_code == 429 and "Too many failed logins" in r.json()["detail"]
