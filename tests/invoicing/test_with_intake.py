"""End to end with intake in the same process: a hand-made policy reaches invoicing, an invoice posted
in invoicing reaches intake, and intake's updated policy comes back to invoicing's read model."""

from __future__ import annotations

from tests.invoicing.helpers import entries, open_rec, wait_policies
from tests.support.inprocess import eventually


async def test_posting_flows_back_through_intake(start_service, token_for) -> None:
    intake = await start_service("intake")
    invoicing = await start_service("invoicing")
    async with intake.as_user(token_for("clerk")) as ic:
        r = await ic.post("/api/policies", json={
            "carrier": "Acme Mutual", "policy_number": "E2E-1", "client_name": "End To End",
            "effective_date": "2026-01-01", "expiration_date": "2027-01-01", "estimated_premium": "1000.00"})
        assert r.status_code == 201, r.text
    async with invoicing.as_user(token_for("clerk")) as c:
        await wait_policies(c, 1)
        rec = await open_rec(c)
        (row,) = await entries(c, rec["id"])
        r = await c.patch(f"/api/reconciliations/{rec['id']}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "premium_paid": "200.00", "rate": "10%",
             "bill_type": "endorsement", "selected": True}]})
        assert r.status_code == 200, r.text
        done = await c.post(f"/api/reconciliations/{rec['id']}/create-pay-all", json={})
        assert done.status_code == 200 and done.json()["outcome"] == "done", done.text
        policy_id = row["policy_id"]

        async def billed() -> str | None:
            p = (await c.get(f"/api/policies/{policy_id}")).json()
            return p["billed_premium"] if p["version"] > 1 else None
        # endorsement: the premium paid is added to the billed (and annualized) premium by intake
        assert await eventually(billed, timeout=30, message="intake applied the posting") is not None
        p = (await c.get(f"/api/policies/{policy_id}")).json()
        assert p["billed_premium"] == "200.00", p
