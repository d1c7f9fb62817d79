"""The wiring between real processes: outbox → broker → another service's inbox, once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from agency_common.contracts import topics
from agency_common.contracts.envelope import make_envelope
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from aiokafka import AIOKafkaProducer

from tests.support.carriers import register_carriers_sync
from tests.support.services import ServiceHarness, api, wait_until


def _policy_count(url: str, token: str) -> int:
    with api(url, token) as client:
        return client.get("/api/policies").json()["total"]


def _event_count(url: str, token: str, event_type: str) -> int:
    with api(url, token) as client:
        rows = client.get("/api/operations/events").json()
    return sum(r["count"] for r in rows if r["event_type"] == event_type)


def test_event_from_intake_outbox_reaches_invoicing_process_once(harness: ServiceHarness, token_for) -> None:
    intake = harness.start("intake")
    invoicing = harness.start("invoicing")
    reporting = harness.start("reporting")
    token = token_for("clerk")

    with api(intake.url, token) as client:
        register_carriers_sync(client, "Acme Mutual")
        created = client.post("/api/policies", json={
            "carrier": "Acme Mutual", "policy_number": "AM-1001", "client_name": "Dana Whitfield",
            "estimated_premium": "1234.50"})
    assert created.status_code == 201, created.text
    policy_id = created.json()["policy_id"]
    assert created.json()["created_by"] == "clerk"

    def invoicing_has_it() -> dict | None:
        with api(invoicing.url, token) as client:
            r = client.get(f"/api/policies/{policy_id}")
        return r.json() if r.status_code == 200 else None

    view = wait_until(invoicing_has_it, timeout=60, message="policy in invoicing's read model")
    assert view["policy_number"] == "AM-1001"
    assert view["estimated_premium"] == "1234.50"
    wait_until(lambda: _event_count(reporting.url, token, "intake.policy.created") == 1, timeout=60)
    assert _policy_count(invoicing.url, token) == 1


def test_same_event_delivered_twice_has_one_effect(harness: ServiceHarness, token_for, kafka: str) -> None:
    reporting = harness.start("reporting")
    invoicing = harness.start("invoicing")
    token = token_for("admin")
    snapshot = PolicySnapshot(policy_id=str(uuid.uuid4()), version=1, carrier="Acme", policy_number="D-1",
                              client_name="Twice Delivered", updated_at=datetime.now(UTC))
    envelope = make_envelope(PolicyCreated(policy=snapshot), producer="intake", actor="test",
                             correlation_id=str(uuid.uuid4()))

    async def send_twice() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
        await producer.start()
        try:
            for _ in range(2):
                await producer.send_and_wait(topics.INTAKE_POLICIES, envelope.to_bytes(),
                                             key=snapshot.policy_id.encode())
        finally:
            await producer.stop()

    asyncio.run(send_twice())
    wait_until(lambda: _policy_count(invoicing.url, token) == 1, timeout=60)
    wait_until(lambda: _event_count(reporting.url, token, "intake.policy.created") >= 1, timeout=60)
    # Both copies were consumed (the metrics count the duplicate), yet the effect happened once.
    wait_until(lambda: 'outcome="duplicate"' in httpx.get(f"{reporting.url}/metrics").text, timeout=30)
    assert _event_count(reporting.url, token, "intake.policy.created") == 1


def test_mutating_calls_need_a_token_and_the_permission(harness: ServiceHarness, token_for) -> None:
    intake = harness.start("intake")
    appointments = harness.start("appointments")
    body = {"carrier": "Acme", "policy_number": "Z-1", "client_name": "Nobody"}
    anonymous = httpx.post(f"{intake.url}/api/policies", json=body)
    assert anonymous.status_code == 401
    forged = httpx.post(f"{intake.url}/api/policies", json=body, headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code == 401
    with api(intake.url, token_for("viewer")) as client:
        assert client.post("/api/policies", json=body).status_code == 403
    with api(intake.url, token_for("licensing")) as client:
        assert client.post("/api/policies", json=body).status_code == 403

    appoint = {"requests": [{"npn": "1234567", "states": ["TX"], "loa_category": "Life & Health",
                             "cocodes": ["60054"]}]}
    assert httpx.post(f"{appointments.url}/api/appointments/bulk", json=appoint).status_code == 401
    with api(appointments.url, token_for("clerk")) as client:
        assert client.post("/api/appointments/bulk", json=appoint).status_code == 403
    with api(appointments.url, token_for("licensing")) as client:
        made = client.post("/api/producer-imports", files={"file": ("a.csv", AGENT_CSV, "text/csv")})
        assert made.status_code == 201 and made.json()["uploaded_by"] == "licensing"
        assert client.post("/api/appointments/bulk", json=appoint).status_code == 200
        assert client.post("/api/transaction-batches/nope/submit").status_code == 404
    with api(appointments.url, token_for("viewer")) as client:
        assert client.post("/api/transaction-batches/nope/submit").status_code == 403


AGENT_CSV = b"Agency NPN,First Name,Last Name,Agent NPN\r\n8800002,Dana,Whitfield,1234567\r\n"


def test_batch_goes_to_gateway_and_results_come_back(harness: ServiceHarness, token_for) -> None:
    appointments = harness.start("appointments")
    harness.start("gateway")
    with api(appointments.url, token_for("licensing")) as client:
        parsed = client.post("/api/producer-imports", files={"file": ("a.csv", AGENT_CSV, "text/csv")}).json()
        client.post(f"/api/producer-imports/{parsed['id']}/process").raise_for_status()
        wait_until(lambda: client.get("/api/producers/1234567").json()["sync_status"] == "synced", timeout=60,
                   message="licenses fetched from NIPR through the gateway")
        made = client.post("/api/appointments/bulk", json={"requests": [
            {"npn": "1234567", "states": ["TX", "CA"], "loa_category": "Life & Health", "cocodes": ["60054"],
             "submit": True}]})
        made.raise_for_status()
        batch_id = made.json()["batches"][0]["batch_id"]

        def completed() -> dict | None:
            batch = client.get(f"/api/transaction-batches/{batch_id}").json()
            return batch if batch["status"] == "completed" else None

        batch = wait_until(completed, timeout=60, message="batch completed by NIPR results")
    sent = [t for t in batch["transactions"] if t["billable"]]
    assert sent and {t["status"] for t in sent} == {"Appointed"}  # NIPR accepted: the seed's wording
    assert all(t["nipr_reference"].startswith("GT-") for t in sent)


def test_health_readiness_metrics_asyncapi_and_login(harness: ServiceHarness) -> None:
    svc = harness.start("invoicing")
    assert httpx.get(f"{svc.url}/healthz").json()["status"] == "ok"
    ready = wait_until(lambda: httpx.get(f"{svc.url}/readyz").status_code == 200, timeout=30)
    assert ready
    assert "events_consumed_total" in httpx.get(f"{svc.url}/metrics").text or \
        "http_requests_total" in httpx.get(f"{svc.url}/metrics").text
    page = httpx.get(f"{svc.url}/asyncapi").text
    assert "/static/common/asyncapi-standalone.js" in page and "http" not in page.split("<body>")[1].split("fetch")[0]
    doc = httpx.get(f"{svc.url}/asyncapi.json").json()
    assert doc["asyncapi"].startswith("3.")
    assert httpx.get(f"{svc.url}/static/common/asyncapi-standalone.js").status_code == 200
    # The dashboard is behind the login page; a wrong password is refused, the right one lets in.
    home = httpx.get(f"{svc.url}/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].startswith("/login")
    with httpx.Client(base_url=svc.url) as browser:
        bad = browser.post("/login", data={"username": "admin", "password": "nope", "next": "/"})
        assert bad.status_code == 401 and "Wrong login or password" in bad.text
        ok = browser.post("/login", data={"username": "admin", "password": "admin-pass-1", "next": "/"},
                          follow_redirects=True)
        assert ok.status_code == 200 and "Policies known from intake" in ok.text
