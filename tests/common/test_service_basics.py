"""What every service gets from the runtime: request limits, correlation ids, metrics."""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def test_oversized_request_is_refused_with_413(start_service, token_for) -> None:
    intake = await start_service("intake", max_upload_bytes=2048)
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "A")
        big = await client.post("/api/policies", content=b"{" + b" " * 5000 + b"}",
                                headers={"content-type": "application/json"})
        assert big.status_code == 413
        small = await client.post("/api/policies", json={"carrier": "A", "policy_number": "1", "client_name": "B"})
        assert small.status_code == 201


async def test_correlation_id_travels_from_http_into_the_event_and_metrics_count(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "A")
        r = await client.post("/api/policies", json={"carrier": "A", "policy_number": "C-1", "client_name": "B"},
                              headers={"X-Correlation-ID": "trace-me-42"})
        assert r.headers["x-correlation-id"] == "trace-me-42"
    outbox = intake.runtime.tables.outbox

    async def sent_row():
        async with intake.runtime.db.session() as s:
            return (await s.execute(select(outbox).where(outbox.c.sent_at.is_not(None),
                                                         outbox.c.event_type == "intake.policy.created"))).mappings().first()

    row = await eventually(sent_row, message="event published by the relay")
    assert json.loads(row["payload"])["correlation_id"] == "trace-me-42"
    assert json.loads(row["payload"])["actor"] == "clerk"
    assert json.loads(row["headers"])["correlation_id"] == "trace-me-42"
    metrics = (await intake.client.get("/metrics")).text
    assert 'events_published_total{topic="intake.policies.v1"} 1.0' in metrics
    assert 'http_requests_total{method="POST",route="/api/policies",status="201"} 1.0' in metrics
