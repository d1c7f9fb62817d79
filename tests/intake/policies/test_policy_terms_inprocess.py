"""A policy's terms through the real broker (issue 6): an installment dated in the next term starts
that term with its own dates and totals; the policy shows the new term, dates and totals alike, and
the old term keeps what was posted to it."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from agency_common.contracts.invoicing import InvoicePosted

from tests.intake.statements.test_feed_events_inprocess import publish
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def test_an_installment_in_the_next_term_renews_the_policy_with_that_terms_dates(start_service, token_for):
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Termco")
        r = await client.post("/api/policies", json={
            "carrier": "Termco", "policy_number": "T-1", "client_name": "Ann Term", "effective_date": "2026-01-01",
            "expiration_date": "2027-01-01", "estimated_premium": "1000.00", "commission_rate": "15%"})
        assert r.status_code == 201, r.text
        policy_id = r.json()["policy_id"]
        first = (await client.get(f"/api/policies/{policy_id}")).json()
        assert [(t["effective_date"], t["expiration_date"], t["current"]) for t in first["terms"]] == [
            ("2026-01-01", "2027-01-01", True)]

        postings = [("term_policy", "1000.00", "150.00", date(2026, 1, 1), date(2027, 1, 1)),
                    ("installment", "100.00", "15.00", date(2027, 2, 1), date(2027, 1, 1))]
        for bill_type, premium, commission, eff, exp in postings:
            await publish(intake.runtime, InvoicePosted(
                invoice_id=str(uuid.uuid4()), reconciliation_id="r1", policy_id=policy_id, bill_type=bill_type,
                effective_date=eff, expiration_date=exp, premium=Decimal(premium),
                commission=Decimal(commission)), producer="invoicing")

        async def both_applied():
            p = (await client.get(f"/api/policies/{policy_id}")).json()
            return p if p["version"] == 3 else None
        policy = await eventually(both_applied, message="postings applied")

    # the policy shows its current term: the renewal's dates with the renewal's totals
    assert (policy["effective_date"], policy["expiration_date"]) == ("2027-01-01", "2028-01-01")
    assert (policy["annualized_premium"], policy["billed_premium"]) == ("100.00", "100.00")
    assert (policy["estimated_agency_commission"], policy["billed_agency_commission"]) == ("15.00", "15.00")
    old, renewal = policy["terms"]
    assert (old["effective_date"], old["expiration_date"], old["current"]) == ("2026-01-01", "2027-01-01", False)
    assert (old["annualized_premium"], old["billed_premium"], old["billed_agency_commission"]) == (
        "1000.00", "1000.00", "150.00")
    assert (renewal["effective_date"], renewal["expiration_date"], renewal["current"]) == (
        "2027-01-01", "2028-01-01", True)
