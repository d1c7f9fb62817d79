"""Alembic per service: each service's migrations see only that service's metadata.

A service's ``migrations/env.py`` is two lines: import its metadata and call ``run_env``.
``upgrade`` is what ``python -m <service> migrate`` runs; it is a step of its own, never part of
application start-up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from agency_common.db.engine import normalise_url
from agency_common.db.types import ExactDecimal, UTCDateTime

MIGRATION_LOCK = 7_310_224_001  # the advisory lock key of "migrations running here"


def alembic_config(migrations_dir: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, url), revision)


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types (and SQLModel's) with their import path and arguments."""
    if type_ != "type":
        return False
    if isinstance(obj, ExactDecimal):
        autogen_context.imports.add("import agency_common.db.types")
        return f"agency_common.db.types.ExactDecimal(scale={obj.scale}, precision={obj.precision})"
    if isinstance(obj, UTCDateTime):
        autogen_context.imports.add("import agency_common.db.types")
        return "agency_common.db.types.UTCDateTime()"
    if type(obj).__module__.startswith("sqlmodel"):
        autogen_context.imports.add("import sqlmodel")
        length = getattr(obj, "length", None)
        return f"sqlmodel.sql.sqltypes.AutoString({f'length={length}' if length else ''})"
    return False


def _configure(context: Any, metadata: MetaData, **kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: batch mode rebuilds the table
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_env(context: Any, metadata: MetaData) -> None:
    """Body of every service's env.py."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        _configure(context, metadata, url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # Every replica may run `migrate` as it starts: one at a time, the others wait and then
            # find nothing left to do. Held until this transaction commits (advisory locks are per
            # database, so one key serves every service).
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        _configure(context, metadata, connection=connection)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # WAL is a property of the file: set here, once, by the only connection, so the
                # service's connections never race each other to switch it at start-up (a switch
                # needs the file to itself and fails with "database is locked" when it has not).
                await connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_async())
