"""Dead letters add up (issue 20 item 2): when two services refuse the same event, each refusal is in
that service's ``dead_letters`` table, on ``<topic>.dlt`` with its error headers, and counted by
reporting once per refusing service, even though both copies carry the same ``event_id``; a copy
published again (the refuser crashed before committing) is the same refusal, counted once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from agency_common.contracts import topics
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from agency_common.messaging.consumer import PermanentError
from agency_common.outbox import Transaction, messaging_tables
from agency_common.settings import ServiceSettings
from agency_common.web.runtime import ServiceRuntime
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import MetaData, select

from tests.reporting.conftest import envelope, publish
from tests.support.inprocess import eventually


async def refuse(_tx: Transaction, env: Envelope[Any]) -> None:
    raise PermanentError(f"refusing {env.payload.policy.policy_id}")


async def _refuser(name: str, kafka: str, databases: Any) -> tuple[ServiceRuntime, Any]:
    metadata = MetaData()
    runtime = ServiceRuntime(
        ServiceSettings(service_name=name, database_url=databases.new(name), kafka_bootstrap_servers=kafka,
                        kafka_session_timeout_ms=2000, kafka_heartbeat_interval_ms=500),
        messaging_tables(metadata), title=name)
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    runtime.consumer.on(PolicyCreated, refuse)
    return runtime, runtime.create_app()


async def _dead_letter_rows(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as s:
        return list((await s.execute(select(runtime.tables.dead_letters))).mappings())


async def _dlt_copies(kafka: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topics.dlt(topics.INTAKE_POLICIES), bootstrap_servers=kafka,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    copies: list[Any] = []
    try:
        async def read_all() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                copies.extend(records)
            return len(copies) >= expected
        await eventually(read_all, message="both refusals on the dead-letter topic")
    finally:
        await consumer.stop()
    return copies


async def test_two_services_refusing_one_event_are_two_dead_letters_counted_once_each(
        start_service, token_for, kafka, databases) -> None:
    reporting = await start_service("reporting", team_screens_interval_seconds=0)
    first, first_app = await _refuser("refuser-a", kafka, databases)
    second, second_app = await _refuser("refuser-b", kafka, databases)
    refused = envelope(PolicyCreated(policy=PolicySnapshot(
        policy_id=str(uuid.uuid4()), version=1, carrier="Refused Mutual", policy_number="R-1",
        client_name="Refused Client", updated_at=datetime.now(UTC))))
    async with first_app.router.lifespan_context(first_app), second_app.router.lifespan_context(second_app):
        await publish(kafka, [refused])
        for runtime in (first, second):
            rows = await eventually(lambda r=runtime: _dead_letter_rows(r), message="refusal stored")
            assert [(row["event_id"], row["error_type"]) for row in rows] == [(str(refused.event_id), "PermanentError")]
        copies = await _dlt_copies(kafka, 2)

    headers = [{k: v.decode() for k, v in copy.headers} for copy in copies]
    assert sorted(h["x-consumer"] for h in headers) == ["refuser-a", "refuser-b"]
    assert {h["event_id"] for h in headers} == {str(refused.event_id)}, "both copies carry the same event_id"
    assert all(h["x-error-type"] == "PermanentError" and h["x-original-topic"] == topics.INTAKE_POLICIES
               for h in headers)

    # refuser-a's copy published again, as after a crash between the publish and the commit
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        again = next(c for c in copies if dict(c.headers)["x-consumer"] == b"refuser-a")
        await producer.send_and_wait(again.topic, again.value, key=again.key, headers=list(again.headers))
    finally:
        await producer.stop()

    async with reporting.as_user(token_for("admin")) as client:
        async def counted() -> Any:
            return (await client.get("/api/operations/dead-letters")).json()

        def duplicates_seen() -> float:
            consumed = reporting.runtime.metrics.events_consumed
            return consumed.labels(topics.dlt(topics.INTAKE_POLICIES), "duplicate")._value.get()

        async def settled() -> bool:
            # the republished copy was read and recognised as the refusal already counted
            return await counted() == [{"topic": topics.INTAKE_POLICIES, "count": 2}] and duplicates_seen() >= 1

        await eventually(settled, message="one count per refusing service")
        assert await counted() == [{"topic": topics.INTAKE_POLICIES, "count": 2}]
