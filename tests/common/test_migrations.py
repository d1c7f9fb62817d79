"""Each service's migrations build exactly its own models' schema, and nothing of another's."""

from __future__ import annotations

import pytest
from agency_common.db.engine import make_engine
from agency_common.db.migrate import _render_item
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tests.support.inprocess import migrate, service_defs

SERVICES = ["intake", "invoicing", "appointments", "reporting", "gateway"]


def _metadata(name: str):
    module = {"gateway": "appointments.gateway.models"}.get(name, f"{name}.models")
    return __import__(module, fromlist=["metadata"]).metadata


@pytest.mark.parametrize("name", SERVICES)
async def test_migrations_match_models(name: str, databases) -> None:
    assert service_defs()[name].migrations.is_dir()
    url = databases.new(name)
    await migrate(name, url)
    metadata = _metadata(name)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            def diff(sync_conn):
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False, "render_item": _render_item})
                return compare_metadata(ctx, metadata), set(inspect(sync_conn).get_table_names())
            changes, tables = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], f"{name}: models and migrations disagree: {changes}"
    assert tables - {"alembic_version"} == set(metadata.tables), "a service sees only its own tables"
    assert {"outbox", "inbox", "dead_letters"} <= tables


def test_metadata_is_separate_per_service() -> None:
    from sqlmodel import SQLModel

    metadatas = [_metadata(name) for name in SERVICES]
    assert len({id(m) for m in metadatas}) == len(SERVICES)
    assert not SQLModel.metadata.tables, "no table may land in SQLModel's global metadata"


@pytest.mark.parametrize("name", SERVICES)
def test_asyncapi_document_in_the_repository_is_current(name: str) -> None:
    from pathlib import Path

    from agency_platform.asyncapi_export import render
    from agency_platform.launcher import SERVICES as SPECS

    module = next(s.module for s in SPECS if s.name == name)
    kept = Path(__file__).parents[2] / "docs" / "asyncapi" / f"{name}.yaml"
    assert kept.exists() and kept.read_text() == render(module), (
        f"docs/asyncapi/{name}.yaml is stale: run `.venv/bin/python -m agency_platform.asyncapi_export`")


def test_upstream_asyncapi_document_in_the_repository_is_current() -> None:
    from pathlib import Path

    from agency_platform.asyncapi_export import render_upstream

    kept = Path(__file__).parents[2] / "docs" / "asyncapi" / "upstream.yaml"
    assert kept.exists() and kept.read_text() == render_upstream(), (
        "docs/asyncapi/upstream.yaml is stale: run `.venv/bin/python -m agency_platform.asyncapi_export`")
