"""Async engines and sessions for SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg) from one URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import any_, bindparam, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def normalise_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, sqlite_immediate: bool = False, **kwargs: Any) -> AsyncEngine:
    """``sqlite_immediate``: transactions take SQLite's write lock at BEGIN, so two writers queue
    on the busy timeout instead of failing when a read lock cannot be upgraded."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "handle_error", _asyncpg_broken_connection)
        return engine

    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    begin_sql = "BEGIN IMMEDIATE" if sqlite_immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy's "begin" event below owns the transaction start, not the driver.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        # Migrated databases are already in WAL (set by the migration); switching needs the file
        # to itself, so it is only tried on a file that is not, e.g. one a test built by hand.
        cur.execute("PRAGMA journal_mode")
        if cur.fetchone()[0].lower() != "wal":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


# asyncpg's words for a connection left mid-operation (its server process killed, a cancelled call):
# it can never be used again, so the pool must drop it rather than hand it out.
BROKEN_CONNECTION = ("another operation (", "connection was closed in the middle of operation",
                     "connection is closed")


def _asyncpg_broken_connection(context: Any) -> None:
    if any(words in str(context.original_exception) for words in BROKEN_CONNECTION):
        context.is_disconnect = True


class Database:
    """One service's database: its engines and session factories."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        # On SQLite, writes go through a second engine whose transactions start with the write lock;
        # reads keep deferred transactions so a long import never blocks a dashboard page.
        self.write_engine = (
            make_engine(self.url, sqlite_immediate=True, **engine_kwargs)
            if self.url.startswith("sqlite") else self.engine
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        self.write_sessionmaker = async_sessionmaker(
            self.write_engine, expire_on_commit=False, class_=AsyncSession
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one write transaction: committed on success, rolled back on error."""
        async with self.write_sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def dialect_insert(dialect: str) -> Any:
    """The ``insert`` construct of a dialect (SQLite or PostgreSQL): both have ``on_conflict_*``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def insert_ignoring_conflicts(session: AsyncSession, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect."""
    return dialect_insert(session.bind.dialect.name)(table).on_conflict_do_nothing()


def one_of(session: AsyncSession, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` for a chunk-sized list of values. On PostgreSQL the list is ONE array
    parameter: as a list of parameters, a statement prepared for one chunk size and run chunk
    after chunk may switch to PostgreSQL's generic plan, which cannot hash the list and is costed
    from estimates that a growing table leaves behind (a lookup of 1,000 keys went from 5 ms to
    2.3 s for the rest of a 100,000-row import). With an array the plan stays an index look-up."""
    if session.bind.dialect.name != "postgresql":
        return column.in_(values)
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
