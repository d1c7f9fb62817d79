"""Replicas starting together may each run `migrate` (issue 18 item 2): on PostgreSQL the migrations
run one at a time under a database lock, so every replica's migrate succeeds and the schema is built
once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.databases import using_postgres


@pytest.mark.skipif(not using_postgres(), reason="replicas share a PostgreSQL database")
def test_three_replicas_migrating_at_once_all_succeed(databases) -> None:
    url = databases.new("intake")
    env = {**os.environ, "INTAKE_DATABASE_URL": url, "AGENCY_LOG_JSON": "false"}
    replicas = [subprocess.Popen([sys.executable, "-m", "intake", "migrate"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in replicas]
    assert [p.returncode for p in replicas] == [0, 0, 0], outputs

    async def versions() -> list[str]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("select version_num from alembic_version"))).scalars().all()
        await engine.dispose()
        return list(rows)

    assert len(asyncio.run(versions())) == 1
