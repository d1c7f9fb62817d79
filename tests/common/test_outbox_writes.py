"""The unit of work writes outbox rows that decode to the envelope the event would have had."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from agency_common.contracts import decode, make_envelope, topics
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from agency_common.db.engine import Database
from agency_common.outbox import UnitOfWork, messaging_tables
from sqlalchemy import MetaData, select


def _policy(n: int) -> PolicyCreated:
    return PolicyCreated(policy=PolicySnapshot(
        policy_id=f"p-{n}", version=1, carrier="Acme \"Mutual\"", policy_number=f"A-{n}", client_name="Zoë O'Neil",
        estimated_premium=Decimal("0.10") + Decimal("0.20"), effective_date=date(2026, 1, 31),
        updated_at=datetime(2026, 1, 1, 12, 30, tzinfo=UTC)))


async def test_emit_many_writes_the_envelope_json_the_contract_decodes(databases) -> None:
    metadata = MetaData()
    tables = messaging_tables(metadata)
    db = Database(databases.new("outbox"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    woken: list[int] = []
    uow = UnitOfWork(db, tables, producer="intake", on_commit=lambda: woken.append(1))
    try:
        async with uow(actor="clerk <x>", correlation_id="corr-1", causation_id="cause-1") as tx:
            ids = await tx.emit_many(_policy(n) for n in range(3))
            assert await tx.emit_many([]) == []
        assert woken == [1] and len(set(ids)) == 3 and all(i.version == 4 for i in ids)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(select(tables.outbox).order_by(tables.outbox.c.id))).mappings().all()
    finally:
        await db.dispose()

    assert [r["event_id"] for r in rows] == [str(i) for i in ids]
    for n, row in enumerate(rows):
        assert (row["topic"], row["key"], row["event_type"]) == (topics.INTAKE_POLICIES, f"p-{n}", "intake.policy.created")
        env = decode(row["topic"], row["payload"].encode())
        assert env.payload == _policy(n)
        assert env.payload.policy.estimated_premium == Decimal("0.30")
        assert (env.actor, env.correlation_id, env.causation_id, env.producer) == ("clerk <x>", "corr-1", "cause-1", "intake")
        assert json.loads(row["headers"]) == env.headers()
        # byte for byte what the validated envelope serialises to
        expected = make_envelope(env.payload, producer="intake", actor="clerk <x>", correlation_id="corr-1",
                                 causation_id="cause-1", event_id=env.event_id, occurred_at=env.occurred_at)
        assert row["payload"] == expected.model_dump_json()
