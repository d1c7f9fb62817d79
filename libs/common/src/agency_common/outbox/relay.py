"""The outbox relay: publishes committed events in order, in batches, and marks them sent.

Woken after each commit that wrote events and sweeping every few seconds otherwise. A publish
failure (broker unreachable) leaves the rows unsent and backs off; nothing is lost. A relay that
dies after the broker acknowledged but before marking the rows re-publishes them: consumers are
idempotent by their inbox, so duplicates on the wire have no second effect.

On PostgreSQL several instances of a service share one outbox: an advisory lock held for the
pass makes one relay at a time publish, which keeps per-key order. On SQLite one process owns
the database file.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.db.engine import Database
from agency_common.logging import get_logger
from agency_common.outbox.tables import MessagingTables
from agency_common.timeutil import utcnow

log = get_logger(__name__)


@dataclass(frozen=True)
class PendingEvent:
    id: int
    topic: str
    key: str
    payload: bytes
    headers: dict[str, str]


PublishBatch = Callable[[Sequence[PendingEvent]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        publish: PublishBatch,
        *,
        name: str,
        batch_size: int = 500,
        sweep_seconds: float = 1.0,
        max_backoff_seconds: float = 5.0,
        on_published: Callable[[Sequence[PendingEvent]], None] | None = None,
        retention: timedelta = timedelta(days=7),
        inbox_retention: timedelta = timedelta(days=30),
    ) -> None:
        self.db = db
        self.outbox = tables.outbox
        self.publish = publish
        self.batch_size = batch_size
        self.sweep_seconds = sweep_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_published = on_published
        self._wake = asyncio.Event()
        self._lock_key = zlib.crc32(f"outbox-relay:{name}".encode())
        self.last_error: str | None = None
        self.tables = tables
        self.retention = retention
        self.inbox_retention = inbox_retention
        self._next_purge = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def backlog(self) -> tuple[int, float]:
        """Events not yet published, and how long the oldest of them has waited (0 when none waits):
        one query for both gauges."""
        async with self.db.session() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(self.outbox.c.created_at)).where(self.outbox.c.sent_at.is_(None))
            )).one()
        return int(count), max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                published = await self.drain()
                self.last_error = None
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database unreachable: keep the rows, back off
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay pass failed", error=self.last_error, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
                continue
            if published:
                continue  # more may be waiting
            await self._purge_now_and_then()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.sweep_seconds)
            except TimeoutError:
                pass

    async def _purge_now_and_then(self) -> None:
        """Once an hour: drop sent events past the retention, and inbox ids old enough that no
        redelivery of them can still arrive (far beyond Kafka's retention of the topics)."""
        now = asyncio.get_running_loop().time()
        if now < self._next_purge:
            return
        self._next_purge = now + 3600
        try:
            async with self.db.transaction() as session:
                await session.execute(delete(self.outbox).where(
                    self.outbox.c.sent_at.is_not(None), self.outbox.c.sent_at < utcnow() - self.retention))
                inbox = self.tables.inbox
                await session.execute(delete(inbox).where(inbox.c.received_at < utcnow() - self.inbox_retention))
        except Exception as exc:  # noqa: BLE001 - housekeeping must never stop the relay
            log.warning("outbox/inbox purge failed", error=str(exc))

    async def drain(self) -> int:
        """Publish every unsent event; returns how many were published."""
        total = 0
        while True:
            count = await self._pass()
            total += count
            if count < self.batch_size:
                return total

    async def _pass(self) -> int:
        if self.db.dialect == "postgresql":
            async with self.db.transaction() as session:
                locked = await session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self._lock_key}
                )
                if not locked.scalar_one():
                    return 0
                return await self._publish_rows(await self._claim(session), session)
        async with self.db.session() as reader:
            rows = await self._claim(reader)
        return await self._publish_rows(rows, None)

    async def _claim(self, session: AsyncSession) -> list[PendingEvent]:
        o = self.outbox
        result = await session.execute(
            select(o.c.id, o.c.topic, o.c.key, o.c.payload, o.c.headers)
            .where(o.c.sent_at.is_(None))
            .order_by(o.c.id)
            .limit(self.batch_size)
        )
        return [
            PendingEvent(id=r.id, topic=r.topic, key=r.key, payload=r.payload.encode(), headers=json.loads(r.headers))
            for r in result
        ]

    async def _publish_rows(self, rows: list[PendingEvent], writer: AsyncSession | None) -> int:
        if not rows:
            return 0
        ids = [r.id for r in rows]
        try:
            await self.publish(rows)
        except Exception as exc:
            await self._record_failure(ids, exc)
            raise
        stmt = update(self.outbox).where(self.outbox.c.id.in_(ids)).values(sent_at=utcnow())
        if writer is not None:
            await writer.execute(stmt)
        else:
            async with self.db.transaction() as session:
                await session.execute(stmt)
        if self.on_published:
            self.on_published(rows)
        return len(rows)

    async def _record_failure(self, ids: list[int], exc: Exception) -> None:
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(self.outbox)
                    .where(self.outbox.c.id.in_(ids))
                    .values(attempts=self.outbox.c.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000])
                )
        except Exception:  # noqa: BLE001 - the failure itself is already being reported by the caller
            log.debug("could not record outbox failure")
