"""Unit of work: one database transaction for a state change and the events it causes.

Events are written to the outbox table in the caller's transaction (never published directly);
after the commit the relay is woken to publish them.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.audit import record_in
from agency_common.contracts.envelope import EventPayload, envelope_headers
from agency_common.db.engine import Database
from agency_common.idempotency import claim_in, claim_settled
from agency_common.logging import current_correlation_id
from agency_common.outbox.tables import MessagingTables
from agency_common.timeutil import utcnow


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

    async def audit(self, action: str, *, subject_type: str | None = None, subject_id: str | None = None,
                    detail: dict[str, Any] | None = None) -> None:
        """An audit row by this transaction's actor, committed with the change or not at all."""
        await record_in(self.session, self._tables.audit_log, action, self.actor, subject_type=subject_type,
                        subject_id=subject_id, detail=detail)

    async def emit(self, payload: EventPayload) -> uuid.UUID:
        return (await self.emit_many([payload]))[0]

    async def emit_many(self, payloads: Iterable[EventPayload]) -> list[uuid.UUID]:
        """Write events to the outbox in this transaction (one executemany for many events).

        Payloads were validated when they were built, so the envelope is serialised straight from
        its fields (the same JSON as ``Envelope.model_dump_json``, at twice the speed); consumers
        still validate what they decode. Returns the event ids."""
        payloads = list(payloads)
        if not payloads:
            return []
        now = utcnow()
        random = os.urandom(16 * len(payloads))  # one system call for all the event ids
        ids, rows = [], []
        for i, payload in enumerate(payloads):
            event_id = uuid.UUID(bytes=random[16 * i:16 * i + 16], version=4)
            ids.append(event_id)
            rows.append(self._outbox_row(payload, event_id, now))
        await self.session.execute(insert(self._tables.outbox), rows)
        self.emitted_count += len(rows)
        return ids

    def _outbox_row(self, payload: EventPayload, event_id: uuid.UUID, now: datetime) -> dict[str, Any]:
        envelope = {
            "event_id": event_id, "type": payload.event_type, "version": payload.event_version,
            "occurred_at": now, "producer": self._producer, "correlation_id": self.correlation_id,
            "causation_id": self.causation_id, "actor": self.actor, "payload": payload,
        }
        headers = envelope_headers(str(event_id), payload.event_type, self.correlation_id, self._producer)
        return {
            "event_id": str(event_id), "topic": payload.topic, "key": payload.key(),
            "event_type": payload.event_type, "payload": to_json(envelope).decode(),
            "headers": json.dumps(headers), "created_at": now, "sent_at": None, "attempts": 0,
        }


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
        claim = None
        try:
            async with self.db.transaction() as session:
                # A request's idempotency key is recorded in its first write transaction, beside its effect.
                claim = await claim_in(session, self.tables.idempotency_keys, self.db.dialect)
                tx = Transaction(
                    session=session,
                    actor=actor,
                    correlation_id=correlation_id or current_correlation_id(),
                    causation_id=causation_id,
                    _tables=self.tables,
                    _producer=self.producer,
                )
                yield tx
        except BaseException:
            claim_settled(claim, committed=False)
            raise
        claim_settled(claim, committed=True)
        if tx.emitted_count and self.on_commit is not None:
            self.on_commit()
