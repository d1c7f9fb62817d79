"""Fixtures shared by the whole suite: a real Kafka broker (the embedded Tansu), real databases
(SQLite, or PostgreSQL with AGENCY_TEST_DATABASE=postgresql), users and tokens."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from agency_common.auth import TokenService, UserDirectory
from agency_common.messaging.admin import ensure_topics
from agency_common.pii import PiiCipher
from agency_platform.launcher import DEFAULT_GROUPS, free_port, start_broker, write_users_file

from tests.support.databases import DatabaseFactory, using_postgres
from tests.support.services import ServiceHarness

JWT_SECRET = "test-secret-" + "x" * 40
PASSWORDS = {"admin": "admin-pass-1", "clerk": "clerk-pass-1", "licensing": "lic-pass-1",
             "sales": "sales-pass-1", "viewer": "viewer-pass-1"}
MEMBERSHIPS = {"admin": ["admins"], "clerk": ["accounting"], "licensing": ["licensing"],
               "sales": ["sales_ops"], "viewer": []}


def pytest_report_header() -> str:
    return f"databases: {'PostgreSQL' if using_postgres() else 'SQLite'}"


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[str]:
    """A fresh embedded broker per test (it starts in ~0.1 s), with every platform topic created:
    no test ever sees another test's messages, offsets or consumer groups."""
    port = free_port()
    proc = start_broker(port, log_file=tmp_path / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    asyncio.run(ensure_topics(bootstrap))
    yield bootstrap
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def users_file(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "users.yaml"
    write_users_file(path, PASSWORDS, DEFAULT_GROUPS, MEMBERSHIPS)
    return path


@pytest.fixture(scope="session")
def user_directory(users_file: Path) -> UserDirectory:
    return UserDirectory.from_file(users_file)


@pytest.fixture(scope="session")
def token_for(user_directory: UserDirectory):
    """token_for("clerk") → a bearer token for that user, signed like the services expect."""
    service = TokenService(JWT_SECRET)
    cache: dict[str, str] = {}

    def make(login: str) -> str:
        if login not in cache:
            user = user_directory.authenticate(login, PASSWORDS[login])
            assert user is not None
            cache[login] = service.issue(user)
        return cache[login]

    return make


@pytest.fixture(scope="session")
def pii_key() -> str:
    return PiiCipher.generate_key()


@pytest.fixture
def platform_env(kafka: str, users_file: Path, pii_key: str, artifacts_dir: Path) -> dict[str, str]:
    """Environment for services under test (both in-process settings and subprocesses)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "AGENCY_JWT_SECRET": JWT_SECRET,
        "AGENCY_USERS_FILE": str(users_file),
        "AGENCY_PII_KEYS": pii_key,
        "AGENCY_DATA_DIR": str(artifacts_dir / "data"),
        "AGENCY_LOG_LEVEL": "INFO",
        "AGENCY_CONSUMER_BACKOFF_SECONDS": "0.05",
        "AGENCY_OUTBOX_SWEEP_SECONDS": "0.5",
        # Short sessions: a consumer group join takes ~1 s instead of ~3 s on the embedded broker.
        "AGENCY_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "AGENCY_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "AGENCY_KAFKA_FETCH_MAX_WAIT_MS": "50",  # latency over idle CPU (issue 17)
    }


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path)
    yield factory
    factory.drop_all()


@pytest.fixture
def harness(platform_env: dict[str, str], databases: DatabaseFactory, tmp_path: Path,
            request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[ServiceHarness]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    h = ServiceHarness(platform_env, databases, log_dir)
    yield h
    h.stop_all()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        keep = Path(os.environ.get("AGENCY_TEST_ARTIFACTS", "test-artifacts")) / request.node.name
        shutil.copytree(log_dir, keep, dirs_exist_ok=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
async def start_service(platform_env: dict[str, str], databases: DatabaseFactory):
    """``svc = await start_service("intake")``: the service in this process, migrated, on this
    test's broker and a fresh database; stopped at the end of the test."""
    from contextlib import AsyncExitStack

    from tests.support.inprocess import run_service

    stack = AsyncExitStack()

    async def start(name: str, database_url: str | None = None, **kwargs):
        url = database_url or databases.new(name)
        return await stack.enter_async_context(
            run_service(name, platform_env, url, migrate_first=database_url is None, **kwargs))

    yield start
    await stack.aclose()
