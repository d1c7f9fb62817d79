"""Issue 17: intake's bulk events (a chunk of policies, of policy changes, of sales records) in the
operations views over the real broker: counted by entity, a chunk's policies in the policies view,
beside the single events of the same kinds, and a redelivered chunk counted and applied once."""

from __future__ import annotations

from agency_common.contracts.intake import (
    NewSalesRecord,
    PoliciesCreated,
    PoliciesUpdated,
    PolicyChange,
    PolicyCreated,
    PolicySnapshot,
    SalesRecordsCreated,
)

from tests.reporting.conftest import envelope, publish, utc
from tests.support.inprocess import eventually

T0 = utc(2025, 7, 11, 15, 0)


def snap(pid: str, session_id: str | None, version: int = 1) -> PolicySnapshot:
    return PolicySnapshot(policy_id=pid, version=version, carrier="Acme", policy_number=pid, client_name="Client",
                          session_id=session_id, updated_at=T0)


async def test_bulk_events_count_entities_and_fill_the_policies_view(start_service, token_for, kafka) -> None:
    svc = await start_service("reporting", team_screens_interval_seconds=0)
    chunk = envelope(PoliciesCreated(policies=[snap(f"P-{n}", "SES-1") for n in range(1, 501)]), actor="clerk")
    events = [
        chunk,
        envelope(PoliciesCreated(policies=[snap("P-501", "SES-1"), snap("P-502", "SES-1")]), actor="clerk"),
        envelope(PolicyCreated(policy=snap("H-1", None)), actor="admin"),  # the single form beside them
        envelope(PoliciesUpdated(changes=[PolicyChange(policy=snap(f"P-{n}", "SES-1", 2), changed_fields=["status"])
                                          for n in range(1, 4)])),
        envelope(SalesRecordsCreated(job_id="J-1", created_by="sales", created_at=T0, records=[
            NewSalesRecord(sales_record_id=f"SR-{n}", individual_id=f"I-{n}", sales_record_type="Medicare")
            for n in range(7)])),
    ]
    await publish(kafka, [*events, chunk])  # the first chunk delivered twice

    async with svc.as_user(token_for("clerk")) as client:
        async def counted() -> dict[str, int] | None:
            rows = (await client.get("/api/operations/events")).json()
            counts: dict[str, int] = {}
            for r in rows:
                counts[r["event_type"]] = counts.get(r["event_type"], 0) + r["count"]
            return counts if sum(counts.values()) >= 500 + 2 + 1 + 3 + 7 else None
        counts = await eventually(counted, message="every entity of every event counted")
        assert counts == {"intake.policies.created": 502, "intake.policy.created": 1, "intake.policies.updated": 3,
                          "intake.sales-records.created": 7}

        pol = {s["key"]: s["rows"] for s in (await client.get("/api/operations/views/policies")).json()["sections"]}
        assert {r["User"]: (r["Policies"], r["In Create-Policies sessions"], r["By hand"]) for r in pol["per-user"]} == {
            "clerk": (502, 502, 0), "admin": (1, 0, 1)}

        # the redelivered chunk reaches no handler (the inbox): still counted once
        consumed = svc.runtime.metrics.events_consumed

        def duplicates() -> float:
            return consumed.labels(PoliciesCreated.topic, "duplicate")._value.get()
        await eventually(lambda: duplicates() >= 1, message="the second delivery seen as a duplicate")
        assert (await counted()) == counts
