"""End to end with intake in the same process: hand-made policies reach invoicing, the invoices posted
in invoicing reach intake, which applies each to the policy's annualized and billed premium by bill
type (the rule lives once, in intake), and the updated policies come back to invoicing's read model."""

from __future__ import annotations

from decimal import Decimal

from tests.invoicing.helpers import entries, open_rec, wait_policies
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

BILL_TYPES = ["audit", "cancellation", "endorsement", "installment", "term_policy"]


async def test_each_bill_type_posted_through_intake(start_service, token_for) -> None:
    intake = await start_service("intake")
    invoicing = await start_service("invoicing")
    async with intake.as_user(token_for("clerk")) as ic:
        await register_carriers(ic, "Acme Mutual")
        for i, _bill_type in enumerate(BILL_TYPES):
            r = await ic.post("/api/policies", json={
                "carrier": "Acme Mutual", "policy_number": f"E2E-{i}", "client_name": f"End To End {i}",
                "effective_date": "2026-01-01", "expiration_date": "2027-01-01", "estimated_premium": "1000.00"})
            assert r.status_code == 201, r.text
    async with invoicing.as_user(token_for("clerk")) as c:
        await wait_policies(c, len(BILL_TYPES))
        before = {p["policy_number"]: p for p in (await c.get("/api/policies")).json()["items"]}
        rec = await open_rec(c)
        rows = {r["policy_number"]: r for r in await entries(c, rec["id"])}
        items = [{"id": rows[f"E2E-{i}"]["id"], "version": rows[f"E2E-{i}"]["version"], "premium_paid": "200.00",
                  "rate": "10%", "bill_type": bill_type, "selected": True} for i, bill_type in enumerate(BILL_TYPES)]
        r = await c.patch(f"/api/reconciliations/{rec['id']}/entries", json={"items": items})
        assert r.status_code == 200, r.text
        done = await c.post(f"/api/reconciliations/{rec['id']}/create-pay-all", json={})
        assert done.status_code == 200 and done.json()["outcome"] == "done", done.text
        assert done.json()["posted"] == len(BILL_TYPES)

        async def all_applied() -> dict | None:
            now = {p["policy_number"]: p for p in (await c.get("/api/policies")).json()["items"]}
            return now if all(p["version"] > before[n]["version"] for n, p in now.items()) else None
        after = await eventually(all_applied, timeout=30, message="intake applied every posting")

    def totals(p: dict) -> tuple[Decimal, Decimal]:
        return Decimal(p["annualized_premium"] or 0), Decimal(p["billed_premium"] or 0)

    paid = Decimal("200.00")
    effect = {bt: (totals(before[f"E2E-{i}"]), totals(after[f"E2E-{i}"])) for i, bt in enumerate(BILL_TYPES)}
    (a0, b0), (a1, b1) = effect["audit"]
    assert (a1, b1) == (a0 + paid, b0 + paid)  # audit: added to annualized and billed
    (a0, b0), (a1, b1) = effect["endorsement"]
    assert (a1, b1) == (a0 + paid, b0 + paid)  # endorsement: the same
    (a0, b0), (a1, b1) = effect["cancellation"]
    assert (a1, b1) == (a0, b0 + paid)  # cancellation: billed only
    (a0, b0), (a1, b1) = effect["installment"]
    assert b1 == b0 + paid  # installment: added to billed within its term
    (a0, b0), (a1, b1) = effect["term_policy"]
    assert (a1, b1) == (paid, paid)  # term policy: replaces the term's totals
