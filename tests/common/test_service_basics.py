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


async def test_every_request_leaves_an_access_log_line_and_metrics_show_the_state(start_service, token_for) -> None:
    """Issue 18 item 5: one JSON access line per request (method, route template, status, duration,
    user, correlation id); /metrics shows the outbox's age, unreplayed dead letters, the broker and
    the process's CPU and memory; /readyz says ready with the database and the broker."""
    from structlog.testing import capture_logs

    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        with capture_logs() as logs:
            r = await client.get("/api/policies/does-not-exist", headers={"X-Correlation-ID": "access-7"})
            await client.get("/healthz")
        assert r.status_code == 404
        lines = [e for e in logs if e.get("event") == "request"]
        line = next(e for e in lines if e["route"] == "/api/policies/{policy_id}")
        assert (line["method"], line["status"], line["user"]) == ("GET", 404, "clerk")
        assert line["duration_ms"] >= 0 and line["log_level"] == "info"
        assert not [e for e in lines if e["route"] == "/healthz" and e["log_level"] != "debug"], "probes stay quiet"
        await intake.runtime.update_gauges()
        metrics = (await client.get("/metrics")).text
        for name in ("outbox_oldest_pending_seconds", "dead_letters_unreplayed", "process_cpu_seconds_total",
                     "process_resident_memory_bytes", "http_requests_total"):
            assert f"\n{name}" in metrics, name
        ready = (await client.get("/readyz")).json()
        assert ready == {"ready": True, "degraded": False, "database": "ok", "broker": "ok"}
        assert "\nbroker_connected 1.0" in (await client.get("/metrics")).text
