"""Unit of work: one database transaction for a state change and the events it causes.

Events are written to the outbox table in the caller's transaction (never published directly);
after the commit the relay is woken to publish them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.contracts.envelope import Envelope, EventPayload, make_envelope
from agency_common.db.engine import Database
from agency_common.logging import current_correlation_id
from agency_common.outbox.tables import MessagingTables
from agency_common.timeutil import utcnow


def outbox_row(envelope: Envelope[Any], topic: str, key: str) -> dict[str, Any]:
    return {
        "event_id": str(envelope.event_id),
        "topic": topic,
        "key": key,
        "event_type": envelope.type,
        "payload": envelope.model_dump_json(),
        "headers": json.dumps(envelope.headers()),
        "created_at": utcnow(),
        "sent_at": None,
        "attempts": 0,
    }


@dataclass
class Transaction:
    """What a use case gets: the session, who acts, and a way to record events."""

    session: AsyncSession
    actor: str
    correlation_id: str
    causation_id: str | None
    _tables: MessagingTables
    _producer: str
    # How many events this transaction wrote: the relay is woken after the commit when > 0.
    # A count, not the envelopes: a 100,000-event transaction need not hold them all in memory.
    emitted_count: int = 0

    def envelope(self, payload: EventPayload) -> Envelope[Any]:
        return make_envelope(
            payload,
            producer=self._producer,
            actor=self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )

    async def emit(self, payload: EventPayload) -> Envelope[Any]:
        envelopes = await self.emit_many([payload])
        return envelopes[0]

    async def emit_many(self, payloads: Iterable[EventPayload]) -> list[Envelope[Any]]:
        """Write events to the outbox in this transaction (one executemany for many events)."""
        envelopes, rows = [], []
        for payload in payloads:
            env = self.envelope(payload)
            envelopes.append(env)
            rows.append(outbox_row(env, payload.topic, payload.key()))
        if rows:
            await self.session.execute(insert(self._tables.outbox), rows)
            self.emitted_count += len(rows)
        return envelopes


class UnitOfWork:
    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        producer: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.tables = tables
        self.producer = producer
        self.on_commit = on_commit

    @asynccontextmanager
    async def __call__(
        self,
        actor: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> AsyncIterator[Transaction]:
        async with self.db.transaction() as session:
            tx = Transaction(
                session=session,
                actor=actor,
                correlation_id=correlation_id or current_correlation_id(),
                causation_id=causation_id,
                _tables=self.tables,
                _producer=self.producer,
            )
            yield tx
        if tx.emitted_count and self.on_commit is not None:
            self.on_commit()
