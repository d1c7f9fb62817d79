"""The typed answers (issue 14, move 3) keep the JSON the routes wrote before they were typed: the
same keys, money as text, counts as numbers, and each time in the spelling it always had (an
entry's ``+00:00``, a job's ``Z``): the traps of a response model."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies
from tests.support.inprocess import eventually

# the keys of a statement-entry row, read from the route's answer before it had a response model
ENTRY_KEYS = {
    "agency_commission_billed", "agency_commission_estimated", "bill_to_name", "bill_type", "business_type",
    "client_name", "commission_paid", "duplicate", "duplicate_confirmed_at", "duplicate_confirmed_by",
    "duplicate_excluded", "duplicate_of", "effective_date", "errors", "exception", "expiration_date", "id",
    "in_history", "invoice_id", "invoice_status", "item_id", "line_no", "line_of_business", "mode",
    "other_commissions", "people_commission_total", "policy_id", "policy_number", "policy_status", "premium_paid",
    "rate", "rate_input", "rate_type", "selected", "selected_at", "selected_by", "transaction_type", "version"}
JOB_KEYS = {"id", "reconciliation_id", "kind", "status", "total", "done", "result", "error", "created_at",
            "created_by", "finished_at"}
ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+\+00:00$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")


async def test_typed_answers_keep_their_keys_and_spellings(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing", background_threshold=0)
    await publish(kafka, [policy(1), policy(2)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 2)
        rid = (await open_rec(c))["id"]
        rows = await entries(c, rid)
        picked = await c.post(f"/api/reconciliations/{rid}/entries/select", json={"ids": [r["id"] for r in rows]})
        assert picked.json() == {"changed": 2}
        row = (await entries(c, rid))[0]
        assert set(row) == ENTRY_KEYS
        assert ISO_OFFSET.match(row["selected_at"]) and row["premium_paid"] == "1000.00"
        assert row["people_commission_total"] == "0.00" and row["errors"] == {}

        saved = await c.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "rate": "12%"}]})
        assert saved.status_code == 200 and set(saved.json()) == {"saved", "added_ids"}
        rate = saved.json()["saved"][0]["rate"]
        assert isinstance(rate, str) and Decimal(rate) == Decimal("0.12")

        started = await c.post(f"/api/reconciliations/{rid}/create-invoices")
        assert started.status_code == 202 and set(started.json()) == {"background", "job"}
        job = started.json()["job"]
        assert set(job) == JOB_KEYS and ISO_Z.match(job["created_at"]) and job["result"] is None

        async def done() -> bool:
            return (await c.get(f"/api/jobs/{job['id']}")).json()["status"] == "done"
        await eventually(done, message="the create-invoices job done")
        finished = (await c.get(f"/api/jobs/{job['id']}")).json()
        assert ISO_Z.match(finished["finished_at"]) and finished["result"]["created"] == 2
        assert finished["result"]["reconciliation"]["unposted_count"] == 2

        summary = (await c.get(f"/api/reconciliations/{rid}/reports/summary")).json()
        assert set(summary) == {"kind", "title", "header", "columns", "rows", "sections"}
        (by_type,) = summary["rows"]
        assert by_type == ["term_policy", "unposted", 2, "2000.00", "220.00", "0.00", "0.00", "220.00"]
        assert isinstance(by_type[3], str) and summary["header"]["Received"] == "0.00"
        assert summary["sections"][0]["rows"][0] == ["Statement entries", 2]
