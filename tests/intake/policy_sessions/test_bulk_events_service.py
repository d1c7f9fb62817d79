"""Issue 17: intake's bulk actions emit one event per chunk of at most BULK_CHUNK entities: Create
Policies (``PoliciesCreated``), Update Policies by Carrier (``PoliciesUpdated``) and a sales-record job
(``SalesRecordsCreated``); a policy by hand keeps its single ``PolicyCreated``. Through HTTP, the
database and the real broker."""

from __future__ import annotations

import json
import uuid

from agency_common.contracts import topics
from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.intake import (
    PoliciesCreated,
    PoliciesUpdated,
    PolicyCreated,
    SalesRecordsCreated,
)
from sqlalchemy import select

from tests.intake.policy_sessions.test_create_policies_jobs_service import HEADER
from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

LINES = 2 * BULK_CHUNK + 1


def letters(n: int) -> str:
    """A name part without digits (a name with digits is an organisation's): 0 → Aa, 1 → Ab, ..."""
    return "A" + "".join(chr(ord("a") + int(d)) for d in f"{n:04d}")


async def import_statement(client) -> str:
    await register_carriers(client, "Acme")
    rows = [f"BG-{i},Holder {letters(i)},NBS,01/15/2026,01/15/2027,AUTOP,100.00,10%,10.00\r\n"
            for i in range(1, LINES + 1)]
    r = await client.post("/api/statements", files={"file": ("bulk.csv", (HEADER + "".join(rows)).encode(), "text/csv")},
                          data={"carrier": "Acme"})
    assert r.status_code == 202, r.text
    body = await wait_imported(client, r.json()["id"])
    assert body["status"] == "imported" and body["unmatched"] == LINES, body
    return body["id"]


async def outbox(rt, topic: str) -> list[tuple[str, str, dict]]:
    """(event type, key, payload) of the topic's events, in the order written."""
    t = rt.tables.outbox
    async with rt.db.session() as s:
        rows = (await s.execute(select(t.c.event_type, t.c.key, t.c.payload).where(t.c.topic == topic)
                                .order_by(t.c.id))).all()
    return [(et, key, json.loads(payload)["payload"]) for et, key, payload in rows]


async def test_bulk_actions_emit_one_event_per_chunk(start_service, token_for, kafka) -> None:
    intake = await start_service("intake", create_policies_background_threshold=LINES + 1)
    rt = intake.runtime
    async with intake.as_user(token_for("clerk")) as client:
        sid = await import_statement(client)
        r = await client.post(f"/api/statements/{sid}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        assert r.status_code == 201 and r.json()["count"] == LINES, r.text
        session_id = r.json()["id"]
        r = await client.post("/api/policies", json={"carrier": "Acme", "policy_number": "HAND-1",
                                                     "client_name": "Hand Made"})
        assert r.status_code == 201, r.text

        created = await outbox(rt, topics.INTAKE_POLICIES)
        assert [et for et, _, _ in created] == [PoliciesCreated.event_type] * 3 + [PolicyCreated.event_type]
        chunks = [p["policies"] for _, _, p in created[:3]]
        assert [len(c) for c in chunks] == [BULK_CHUNK, BULK_CHUNK, 1]
        numbers = [p["policy_number"] for c in chunks for p in c]
        assert sorted(numbers) == sorted(f"BG-{i}" for i in range(1, LINES + 1))  # each policy once
        assert all(p["session_id"] == session_id and p["version"] == 1 for c in chunks for p in c)
        assert [key for _, key, _ in created[:3]] == [c[0]["policy_id"] for c in chunks]  # keyed by the first
        assert created[3][2]["policy"]["policy_number"] == "HAND-1"

        r = await client.post("/api/policies/update-by-carrier", json={
            "filter": {"carrier": "Acme", "session_id": session_id}, "changes": {"line_of_business": "Commercial Auto"}})
        assert r.status_code == 200 and r.json()["count"] == LINES, r.text
        updated = (await outbox(rt, topics.INTAKE_POLICIES))[4:]
        assert [et for et, _, _ in updated] == [PoliciesUpdated.event_type] * 3
        changes = [c for _, _, p in updated for c in p["changes"]]
        assert [len(p["changes"]) for _, _, p in updated] == [BULK_CHUNK, BULK_CHUNK, 1]
        assert sorted(c["policy"]["policy_number"] for c in changes) == sorted(numbers)
        assert all(c["changed_fields"] == ["line_of_business"] and c["policy"]["version"] == 2
                   and c["policy"]["line_of_business"] == "Commercial Auto" for c in changes)

    # Create Policies made an individual of every person client: one sales record each, in chunks
    async with intake.as_user(token_for("sales")) as sales:
        r = await sales.post("/api/sales-record-jobs", json={
            "idempotency_key": str(uuid.uuid4()), "sales_record_type": "Medicare", "criteria": {"name": "Holder"}})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]

        async def done():
            job = (await sales.get(f"/api/sales-record-jobs/{job_id}")).json()
            return job if job["status"] == "done" else None
        job = await eventually(done, message="sales-record job done")
        assert job["created"] == LINES, job
    records = await outbox(rt, topics.INTAKE_SALES_RECORDS)
    assert [et for et, _, _ in records] == [SalesRecordsCreated.event_type] * 3
    assert [len(p["records"]) for _, _, p in records] == [BULK_CHUNK, BULK_CHUNK, 1]
    assert all(p["job_id"] == job_id and p["created_by"] == "sales" for _, _, p in records)
    assert all(key == job_id for _, key, _ in records)
    assert len({r["individual_id"] for _, _, p in records for r in p["records"]}) == LINES
