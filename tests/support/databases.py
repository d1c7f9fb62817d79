"""Test databases: a SQLite file per test, or a PostgreSQL database per test on 127.0.0.1:5432
when ``AGENCY_TEST_DATABASE=postgresql`` (``make test-postgres``, the second pass of CI)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg

PG_HOST = os.environ.get("AGENCY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("AGENCY_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("AGENCY_TEST_PG_USER", "postgres")


def using_postgres() -> bool:
    return os.environ.get("AGENCY_TEST_DATABASE", "sqlite").lower().startswith("postgres")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class DatabaseFactory:
    """Hands out fresh, empty databases and removes them afterwards."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.created: list[str] = []

    def new(self, label: str = "db") -> str:
        name = f"t_{label}_{uuid.uuid4().hex[:10]}"
        if not using_postgres():
            return f"sqlite+aiosqlite:///{self.tmp_dir / name}.db"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"')) if not _in_loop() else _run_in_thread(
            _admin(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


def _run_in_thread(coro: object) -> None:
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]
