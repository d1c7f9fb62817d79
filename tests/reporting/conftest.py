from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from agency_common.contracts.envelope import EventPayload, make_envelope
from agency_common.db.engine import Database
from aiokafka import AIOKafkaProducer

from tests.support.inprocess import migrate


@pytest.fixture
async def reporting_db(databases) -> AsyncIterator[Database]:
    """A migrated reporting database, without the service (for the SQL of the batch process)."""
    url = databases.new("reporting")
    await migrate("reporting", url)
    db = Database(url)
    yield db
    await db.dispose()


def envelope(payload: EventPayload, *, actor: str = "upstream", occurred_at: datetime | None = None) -> Any:
    extra = {"occurred_at": occurred_at} if occurred_at else {}
    return make_envelope(payload, producer="test", actor=actor, correlation_id=str(uuid.uuid4()), **extra)


async def publish(bootstrap: str, envelopes: list[Any], raw: list[tuple[str, bytes]] = ()) -> None:  # type: ignore[assignment]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for env in envelopes:
            await producer.send(type(env.payload).topic, env.to_bytes(), key=env.payload.key().encode(),
                                headers=[(k, v.encode()) for k, v in env.headers().items()])
        for topic, value in raw:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
