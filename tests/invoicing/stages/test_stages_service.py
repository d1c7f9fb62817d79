"""Create/Pay All with the exceptions popup, abort at each stage, add rows, idempotent clicks,
two operators on one reconciliation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import select

from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies

CARRIER_DEFAULT = {"production_role": "producer", "rate_type": "percent", "rate": "40%", "credit_share": "100%"}


async def _ready(start_service, token_for, kafka, n: int = 3):
    svc = await start_service("invoicing")
    await publish(kafka, [policy(i) for i in range(1, n + 1)])
    async with svc.as_user(token_for("clerk")) as client:
        await wait_policies(client, n)
    return svc, svc.as_user(token_for("clerk"))


async def _select(c, rec_id: str, rows: list[dict]) -> None:
    r = await c.post(f"/api/reconciliations/{rec_id}/entries/select", json={"ids": [x["id"] for x in rows]})
    assert r.status_code == 200, r.text


async def test_create_pay_all_with_production_credit_exceptions(start_service, token_for, kafka) -> None:
    svc, c = await _ready(start_service, token_for, kafka)
    async with c:
        r = await c.put("/api/carriers/Acme Mutual/people-commission-defaults/Pat Producer", json=CARRIER_DEFAULT)
        assert r.status_code == 200, r.text
        rec = await open_rec(c)
        rid = rec["id"]
        rows = await entries(c, rid)
        good, bad, _plain = rows
        # defaults fill role, rate and a full production credit (100.00 of the 100.00 commission)
        oc = await c.post(f"/api/reconciliations/{rid}/entries/{good['id']}/other-commissions",
                          json={"employee": "Pat Producer"})
        assert oc.status_code == 201, oc.text
        assert oc.json()["production_credit"] == "100.00" and oc.json()["amount"] == "40.00"
        assert oc.json()["level_lob"] == "AUTOP" and oc.json()["commission_on"] == "agency commission"
        refused = await c.post(f"/api/reconciliations/{rid}/entries/{bad['id']}/other-commissions",
                               json={"employee": "Pat Producer", "level_lob": "HOME"})
        assert refused.status_code == 422 and "level_lob" in refused.json()["detail"]["errors"]["other_commission"]
        oc = await c.post(f"/api/reconciliations/{rid}/entries/{bad['id']}/other-commissions",
                          json={"employee": "Sam Seller", "production_role": "csr", "rate_type": "flat",
                                "rate": "10.00", "production_credit": "60.00"})
        assert oc.status_code == 201, oc.text
        await _select(c, rid, rows)

        popup = (await c.post(f"/api/reconciliations/{rid}/create-pay-all", json={})).json()
        assert popup["outcome"] == "exceptions" and popup["exception_count"] == 1
        assert popup["exceptions"][0]["entry_id"] == bad["id"]
        assert popup["exceptions"][0]["reasons"] == ["credit_total"]
        assert popup["options"] == ["create_pay", "create_pay_post", "cancel", "abort"]
        assert (await c.get(f"/api/reconciliations/{rid}/invoices", params={"status": "all"})).json()["total"] == 0

        cancel = (await c.post(f"/api/reconciliations/{rid}/create-pay-all", json={"decision": "cancel"})).json()
        assert cancel["outcome"] == "cancelled"
        assert (await c.get(f"/api/reconciliations/{rid}/invoices", params={"status": "all"})).json()["total"] == 0

        done = await c.post(f"/api/reconciliations/{rid}/create-pay-all", json={"decision": "create_pay_post"},
                            headers={"Idempotency-Key": "cpa-1"})
        assert done.status_code == 200, done.text
        body = done.json()
        assert (body["created"], body["posted"], body["paid"], body["next"]) == (2, 2, 2, "post")
        repeat = (await c.post(f"/api/reconciliations/{rid}/create-pay-all", json={"decision": "create_pay_post"},
                               headers={"Idempotency-Key": "cpa-1"})).json()
        assert repeat["replayed"] and repeat["created"] == 2
        paid = (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]
        assert {p["status"] for p in paid} == {"paid"} and len(paid) == 2
        by_entry = {p["entry_id"]: p for p in paid}
        assert by_entry[good["id"]]["people_commission_total"] == "40.00"
        assert by_entry[good["id"]]["people_percent_of_agency"] == "40.00"
        head = (await c.get(f"/api/reconciliations/{rid}")).json()
        assert head["exception_count"] == 1 and Decimal(head["received_total"]) == Decimal("200.00")
        # the exception row is still in statement entry, with its reasons
        left = [r for r in await entries(c, rid) if r["invoice_id"] is None]
        assert [r["id"] for r in left] == [bad["id"]] and left[0]["exception"]["reasons"] == ["credit_total"]
        report = (await c.get(f"/api/reconciliations/{rid}/reports/exceptions")).json()
        assert len(report["rows"]) == 1 and report["rows"][0][0] == bad["id"]
        csv_text = (await c.get(f"/api/reconciliations/{rid}/reports/remittance", params={"format": "csv"})).text
        assert "(S)" in csv_text and "Carrier Remittance Advice" in csv_text
        # the Post popup: posting the reconciliation closes it
        closed = await c.post(f"/api/reconciliations/{rid}/post", json={"target": "reconciliation"})
        assert closed.status_code == 200 and closed.json()["reconciliation"]["status"] == "closed"
        assert (await c.post(f"/api/reconciliations/{rid}/abort", json={})).status_code == 409
    # Create/Pay All is a bulk post: one InvoicesPosted chunk (no single events), one PaymentRecorded
    outbox = svc.runtime.tables.outbox
    async with svc.runtime.db.session() as s:
        types = [r.event_type for r in (await s.execute(select(outbox.c.event_type, outbox.c.sent_at))).all()]
    assert types.count("invoicing.invoices.posted") == 1 and types.count("invoicing.invoice.posted") == 0
    assert types.count("invoicing.payment.recorded") == 1


async def test_abort_at_each_stage(start_service, token_for, kafka) -> None:
    _svc, c = await _ready(start_service, token_for, kafka, n=2)
    async with c:
        # exceptions popup → Abort: nothing created
        rec = await open_rec(c)
        await _select(c, rec["id"], await entries(c, rec["id"]))
        r = (await c.post(f"/api/reconciliations/{rec['id']}/create-pay-all", json={"decision": "abort"})).json()
        assert r["outcome"] == "aborted" and r["invoices_removed"] == 0
        assert r["reconciliation"]["status"] == "aborted" and r["aborted_stage"] == "open"
        assert (await c.post(f"/api/reconciliations/{rec['id']}/create-invoices")).status_code == 409

        # unposted invoices → Abort: the invoices are removed
        rec = await open_rec(c)
        await _select(c, rec["id"], await entries(c, rec["id"]))
        # two clicks at once without a key: the reconciliation's lock serialises them, nothing twice
        first, second = await asyncio.gather(*(c.post(f"/api/reconciliations/{rec['id']}/create-invoices")
                                               for _ in range(2)))
        assert sorted([first.json()["created"], second.json()["created"]]) == [0, 2]
        unposted = (await c.get(f"/api/reconciliations/{rec['id']}/invoices")).json()["items"]
        removed = await c.delete(f"/api/reconciliations/{rec['id']}/invoices/{unposted[0]['id']}")
        assert removed.status_code == 200 and removed.json()["unposted_count"] == 1
        r = (await c.post(f"/api/reconciliations/{rec['id']}/abort", json={})).json()
        assert (r["aborted_stage"], r["invoices_removed"], r["invoices_kept_posted"]) == ("invoiced", 1, 0)
        assert (await c.get(f"/api/reconciliations/{rec['id']}/invoices", params={"status": "all"})).json()["total"] == 0

        # posted and partly paid → Abort: invoices stay posted, this reconciliation's payments voided
        rec = await open_rec(c)
        rid = rec["id"]
        await _select(c, rid, await entries(c, rid))
        await c.post(f"/api/reconciliations/{rid}/create-invoices")
        assert (await c.post(f"/api/reconciliations/{rid}/post", json={})).json()["posted"] == 2
        tx = (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]
        r = await c.patch(f"/api/reconciliations/{rid}/transactions", json={"items": [
            {"invoice_id": tx[0]["id"], "selected": True, "received": "60.00", "seen_selected": False,
             "seen_received": "", "seen_paid_to_date": "0.00"}]})
        assert r.status_code == 200, r.text
        # a second operator working from the same page: refused with the row as it is now
        r = await c.patch(f"/api/reconciliations/{rid}/transactions", json={"items": [
            {"invoice_id": tx[0]["id"], "selected": True, "received": "70.00", "seen_selected": False,
             "seen_received": ""}]})
        assert r.status_code == 409 and r.json()["detail"]["rows"][0]["received"] == "60.00"
        # Received pending (not paid yet) is not on the remittance advice
        advice = (await c.get(f"/api/reconciliations/{rid}/reports/remittance")).json()
        assert {row[9] for row in advice["rows"]} == {"0.00"}
        paid = (await c.post(f"/api/reconciliations/{rid}/pay", json={"idempotency_key": "pay-1"})).json()
        advice = (await c.get(f"/api/reconciliations/{rid}/reports/remittance")).json()
        assert sorted(row[9] for row in advice["rows"]) == ["0.00", "60.00"]
        assert paid["paid"] == 1 and paid["reconciliation"]["received_total"] == "60.00"
        again = (await c.post(f"/api/reconciliations/{rid}/pay", headers={"Idempotency-Key": "pay-1"})).json()
        assert again["replayed"] and again["reconciliation"]["received_total"] == "60.00"
        assert paid["reconciliation"]["status"] == "posted"
        tx = {t["id"]: t for t in (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]}
        assert tx[min(tx)]["paid_to_date"] == "60.00" and tx[min(tx)]["balance"] == "40.00"
        r = (await c.post(f"/api/reconciliations/{rid}/abort", headers={"Idempotency-Key": "ab-1"})).json()
        assert (r["aborted_stage"], r["invoices_removed"], r["invoices_kept_posted"], r["payments_voided"]) == (
            "posted", 0, 2, 1)
        again = (await c.post(f"/api/reconciliations/{rid}/abort", headers={"Idempotency-Key": "ab-1"})).json()
        assert again["replayed"] is True
        tx = (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]
        assert {t["status"] for t in tx} == {"posted"} and {t["paid_to_date"] for t in tx} == {"0.00"}
        head = (await c.get(f"/api/reconciliations/{rid}")).json()
        assert head["status"] == "aborted" and head["received_total"] == "0.00"


async def test_add_rows_save_errors_and_two_operators(start_service, token_for, kafka) -> None:
    _svc, c = await _ready(start_service, token_for, kafka, n=1)
    async with c, _svc.as_user(token_for("admin")) as other:
        rec = await open_rec(c)
        rid = rec["id"]
        (row,) = await entries(c, rid)
        oc = await c.post(f"/api/reconciliations/{rid}/entries/{row['id']}/other-commissions",
                          json={"employee": "Sam", "production_role": "csr", "rate_type": "percent", "rate": "0.1",
                                "production_credit": "100.00"})
        assert oc.status_code == 201
        (row,) = await entries(c, rid)
        # installments: the row three times (two added rows), each with its other-commission line
        r = await c.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "add_rows": 2, "bill_type": "installment",
             "commission_paid": "25.00"}]})
        assert r.status_code == 200, r.text
        assert len(r.json()["added_ids"]) == 2
        rows = await entries(c, rid)
        assert len(rows) == 3 and all(len(x["other_commissions"]) == 1 for x in rows)
        assert {x["premium_paid"] for x in rows} == {"250.00"}  # commission 25 at 10 % → premium 250
        assert {x["bill_type"] for x in rows} == {"installment"} and not any(x["selected"] for x in rows)

        # Save validates every row, reports each error on its row and saves nothing
        a, b, d = rows
        bad = await c.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
            {"id": a["id"], "version": a["version"], "premium_paid": "abc"},
            {"id": b["id"], "version": b["version"], "expiration_date": "2025-01-01", "rate": "150%"},
            {"id": d["id"], "version": d["version"], "commission_paid": "30.00"}]})
        assert bad.status_code == 422
        errs = bad.json()["detail"]["errors"]
        assert set(errs) == {str(a["id"]), str(b["id"])}
        assert "premium_paid" in errs[str(a["id"])] and {"rate"} <= set(errs[str(b["id"])])
        assert {x["commission_paid"] for x in await entries(c, rid)} == {"25.00"}  # nothing saved

        # two operators read the same version; the second save is refused with the current row
        r1, r2 = await asyncio.gather(
            c.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
                {"id": a["id"], "version": a["version"], "commission_paid": "30.00"}]}),
            other.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
                {"id": a["id"], "version": a["version"], "rate": "20%"}]}))
        codes = sorted([r1.status_code, r2.status_code])
        assert codes == [200, 409], (r1.text, r2.text)
        loser = r1 if r1.status_code == 409 else r2
        current = loser.json()["detail"]["rows"][0]
        assert current["id"] == a["id"] and current["version"] == a["version"] + 1
        final = next(x for x in await entries(c, rid) if x["id"] == a["id"])
        assert final["version"] == a["version"] + 1
        assert (final["commission_paid"], final["rate"]) in {("30.00", "0.100000"), ("50.00", "0.200000")}

        # selecting saves at once with a time stamp; unselected rows sort first
        await _select(c, rid, [a])
        ordered = await entries(c, rid, sort1="policy_number")
        assert ordered[-1]["id"] == a["id"] and ordered[-1]["selected_at"]
        assert [x["id"] for x in await entries(c, rid, include_selected="false")] == [b["id"], d["id"]]
        # duplicates carry a production credit of 100.00 against 25.00 commission: exceptions
        await _select(c, rid, [b, d])
        res = (await c.post(f"/api/reconciliations/{rid}/create-invoices")).json()
        assert res["exceptions"] == 3 and res["created"] == 0
