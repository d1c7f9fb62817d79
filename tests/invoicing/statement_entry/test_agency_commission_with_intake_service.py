"""Agency commission billed / estimated (issue 5), with intake and invoicing in one process on the
real broker: a policy created from a statement line, and one made by hand under a carrier's default
rate, reach invoicing's statement entry rows with their estimated agency commission (not "— / —");
once posted, the billed agency commission comes back from intake the same way."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.invoicing.helpers import CARRIER, entries, open_rec
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

STATEMENT = (
    "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
    "NEW-1,\"Roe, Jane\",NBS,01/15/2026,01/15/2027,AUTOP,\"$1,234.56\",15%,185.18\r\n"
)


async def test_estimated_and_billed_agency_commission_reach_statement_entry(start_service, token_for) -> None:
    intake = await start_service("intake")
    invoicing = await start_service("invoicing")
    async with intake.as_user(token_for("clerk")) as ic:
        await register_carriers(ic, CARRIER)
        r = await ic.put(f"/api/carrier-profiles/{CARRIER}", json={"default_commission_rate": "10%"})
        assert r.status_code == 200 and r.json()["default_commission_rate"] == "0.1", r.text
        r = await ic.post("/api/policies", json={
            "carrier": CARRIER, "policy_number": "HAND-1", "client_name": "Hand Made", "effective_date": "2026-01-01",
            "expiration_date": "2027-01-01", "estimated_premium": "1000.00"})
        assert r.status_code == 201, r.text
        assert Decimal(r.json()["commission_rate"]) == Decimal("0.10")
        assert r.json()["estimated_agency_commission"] == "100.00"

        files = {"file": ("acme.csv", STATEMENT.encode(), "text/csv")}
        r = await ic.post("/api/statements", files=files, data={"carrier": CARRIER})
        sid = (await wait_imported(ic, r.json()["id"]))["id"]
        r = await ic.post(f"/api/statements/{sid}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        # every line matched now: the statement went to invoicing by itself
        assert (await ic.get(f"/api/statements/{sid}")).json()["status"] == "published"

    async with invoicing.as_user(token_for("clerk")) as c:
        async def statement_rec() -> dict | None:
            recs = (await c.get("/api/reconciliations")).json()["items"]
            return next((x for x in recs if x.get("statement_id") == sid), None)
        rec = await eventually(statement_rec, message="the statement's reconciliation")

        async def estimated_row() -> dict | None:
            rows = await entries(c, rec["id"])
            return rows[0] if rows and rows[0]["agency_commission_estimated"] else None
        row = await eventually(estimated_row, message="the estimated agency commission on the entry row")
        assert (row["policy_number"], row["agency_commission_estimated"], row["agency_commission_billed"]) == (
            "NEW-1", "185.18", None)  # 1,234.56 at 15 %, half-up

        hand = await open_rec(c)
        (hand_row,) = [x for x in await entries(c, hand["id"]) if x["policy_number"] == "HAND-1"]
        assert (hand_row["agency_commission_estimated"], hand_row["commission_paid"]) == ("100.00", "100.00")

        # posted: the billed agency commission accumulates in intake and comes back on the row
        r = await c.patch(f"/api/reconciliations/{rec['id']}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "selected": True}]})
        assert r.status_code == 200, r.text
        done = await c.post(f"/api/reconciliations/{rec['id']}/create-pay-all", json={})
        assert done.status_code == 200 and done.json()["posted"] == 1, done.text

        async def billed_row() -> dict | None:
            rows = await entries(c, rec["id"])
            return rows[0] if rows and rows[0]["agency_commission_billed"] else None
        row = await eventually(billed_row, timeout=30, message="the billed agency commission on the entry row")
        assert (row["agency_commission_billed"], row["agency_commission_estimated"]) == ("185.18", "185.18")
