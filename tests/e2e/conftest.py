"""The whole platform as ``make run`` starts it (embedded broker, every topic, each service its own
process and database, the NIPR gateway with its simulator), driven in headless Chromium.

One platform per test module (module-scoped fixture); databases are SQLite files, or PostgreSQL
databases with ``AGENCY_TEST_DATABASE=postgresql`` as in the rest of the suite. Chromium is Debian's
``/usr/bin/chromium`` (``AGENCY_E2E_CHROMIUM`` to use another); without it every test here is skipped.
Screenshots go to the module's temporary folder, and also to ``AGENCY_E2E_SCREENSHOTS`` when set
(``AGENCY_E2E_SCREENSHOTS=docs/screenshots`` refreshes the README's pictures).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from agency_common.messaging.admin import ensure_topics
from agency_common.pii import PiiCipher
from agency_platform.demo import run_coroutine
from agency_platform.launcher import (
    DEFAULT_GROUPS,
    SERVICES,
    Platform,
    free_port,
    start_broker,
    wait_healthy,
    write_users_file,
)

from tests.support.databases import DatabaseFactory

CHROMIUM = os.environ.get("AGENCY_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
JWT_SECRET = "e2e-secret-" + "y" * 40
PASSWORDS = {"admin": "admin-pass-e2e", "clerk": "clerk-pass-e2e", "licensing": "lic-pass-e2e",
             "sales": "sales-pass-e2e", "manager": "manager-pass-e2e"}
MEMBERSHIPS = {"admin": ["admins"], "clerk": ["accounting"], "licensing": ["licensing"], "sales": ["sales_ops"],
               "manager": ["managers"]}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@dataclass
class RunningPlatform:
    urls: dict[str, str]
    bootstrap: str
    root: Path
    platform: Platform
    databases: DatabaseFactory
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def token(self, login: str) -> str:
        """A bearer token for the user, logged in again once it is five minutes old (access tokens
        live 15 minutes, and a module on a loaded machine can take longer)."""
        token, at = self.tokens.get(login, ("", 0.0))
        if time.monotonic() - at > 300:
            r = httpx.post(f"{self.urls['intake']}/api/auth/token",
                           data={"username": login, "password": PASSWORDS[login]}, timeout=30)
            r.raise_for_status()
            token, at = r.json()["access_token"], time.monotonic()
            self.tokens[login] = (token, at)
        return token

    def api(self, service: str, login: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.urls[service], headers={"Authorization": f"Bearer {self.token(login)}"},
                            timeout=30)

    def logs(self, service: str) -> str:
        path = self.root / "logs" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return (f"Chromium not installed at {CHROMIUM}: `apt-get install -y --no-install-recommends chromium` "
                "(.ci/run installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make venv)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def platform(browser: Any, tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> Iterator[RunningPlatform]:
    """Every process of ``make run``, on free ports, with fresh databases."""
    root = tmp_path_factory.mktemp("e2e-platform")
    (root / "logs").mkdir()
    users_file = root / "users.yaml"
    write_users_file(users_file, PASSWORDS, DEFAULT_GROUPS, MEMBERSHIPS)
    port = free_port()
    env = {
        **os.environ,
        "AGENCY_ENVIRONMENT": "development",
        "AGENCY_JWT_SECRET": JWT_SECRET,
        "AGENCY_USERS_FILE": str(users_file),
        "AGENCY_PII_KEYS": PiiCipher.generate_key(),
        "AGENCY_DATA_DIR": str(root / "data"),
        "AGENCY_LOG_LEVEL": "INFO",
        "AGENCY_CONSUMER_BACKOFF_SECONDS": "0.05",
        "AGENCY_OUTBOX_SWEEP_SECONDS": "0.5",
        "AGENCY_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "AGENCY_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "AGENCY_KAFKA_FETCH_MAX_WAIT_MS": "50",  # latency over idle CPU (issue 17)
    }
    platform = Platform(env=env)
    databases = DatabaseFactory(root)
    failures_before = request.session.testsfailed
    try:
        platform.broker = start_broker(port, log_file=root / "broker.log")
        bootstrap = f"127.0.0.1:{port}"
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        run_coroutine(ensure_topics(bootstrap))
        ports = {spec.name: free_port() for spec in SERVICES}
        urls = {name: f"http://127.0.0.1:{p}" for name, p in ports.items()}
        env["AGENCY_DASHBOARD_URLS"] = ",".join(f"{n}={urls[n]}" for n in
                                                ("intake", "invoicing", "appointments", "reporting"))
        dbs = {spec.name: databases.new(spec.name) for spec in SERVICES}
        t0 = time.monotonic()
        # What `python -m <service> migrate` (Platform.migrate) runs, done in this process: five
        # interpreter starts importing the whole service cost ~30 s on a busy 2-core machine.
        with ThreadPoolExecutor(1) as pool:  # a thread of its own: Playwright runs an event loop here
            pool.submit(_migrate_all, dbs).result()
        t1 = time.monotonic()
        for spec in SERVICES:
            platform.start(spec, dbs[spec.name], ports[spec.name], log_file=root / "logs" / f"{spec.name}.log")
        for spec in SERVICES:
            wait_healthy(urls[spec.name], timeout=240, proc=platform.processes[spec.name])
        print(f"\nplatform: migrated in {t1 - t0:.1f}s, started in {time.monotonic() - t1:.1f}s")
        yield RunningPlatform(urls, bootstrap, root, platform, databases)
    finally:
        platform.stop_all()
        databases.drop_all()
        if request.session.testsfailed > failures_before:
            keep = Path(os.environ.get("AGENCY_TEST_ARTIFACTS", "test-artifacts")) / f"e2e-{request.node.name}"
            shutil.copytree(root / "logs", keep / "logs", dirs_exist_ok=True)
            shots = root / "screenshots"
            if shots.exists():
                shutil.copytree(shots, keep / "screenshots", dirs_exist_ok=True)


def _migrate_all(dbs: dict[str, str]) -> None:
    from agency_common.db.migrate import upgrade

    for spec in SERVICES:
        module = __import__(spec.module, fromlist=["_"])
        upgrade(Path(module.__file__).parent / "migrations", dbs[spec.name])


class Screens:
    """Saves screenshots of the main pages (module folder, and AGENCY_E2E_SCREENSHOTS when set)."""

    def __init__(self, root: Path) -> None:
        self.dirs = [root / "screenshots"]
        extra = os.environ.get("AGENCY_E2E_SCREENSHOTS")
        if extra:
            self.dirs.append(Path(extra))
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str) -> None:
        first = self.dirs[0] / f"{name}.png"
        page.screenshot(path=str(first), full_page=True)
        for d in self.dirs[1:]:
            shutil.copyfile(first, d / f"{name}.png")


@pytest.fixture(scope="module")
def screens(platform: RunningPlatform) -> Screens:
    return Screens(platform.root)


def login(page: Any, base_url: str, user: str, path: str = "/") -> None:
    """Log in through the login form (the cookie then serves every dashboard on this host)."""
    page.goto(f"{base_url}{path}")
    if "/login" in page.url:
        page.fill("#username", user)
        page.fill("#password", PASSWORDS[user])
        page.click("button[type=submit]")
        page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def reload_until(page: Any, check: Any, timeout: float = 60.0, message: str = "") -> Any:
    """Reload the page until ``check(page)`` is truthy, as a person waiting for a result would."""
    from tests.support.services import wait_until

    def attempt() -> Any:
        page.reload()
        return check(page)
    return wait_until(attempt, timeout=timeout, interval=0.5, message=message)


def stat(page: Any, key: str) -> int:
    """A count card of a dashboard (``<div class="stat" id="count-KEY">``) as a number."""
    return int(re.sub(r"[^0-9-]", "", page.inner_text(f"#count-{key}")) or "0")


@pytest.fixture(scope="module")
def context(browser: Any, platform: RunningPlatform) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()
