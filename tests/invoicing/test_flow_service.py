"""Statement entry to payment through HTTP, the database and the real broker."""

from __future__ import annotations

from decimal import Decimal

from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies


async def test_open_select_create_post_pay(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await publish(kafka, [policy(1), policy(2), policy(3, in_history=True)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 3)
        spec = (await c.get("/openapi.json")).json()
        assert "/api/reconciliations/{rec_id}/create-pay-all" in spec["paths"]
        rec = await open_rec(c, description="March", internal_note="n")
        assert rec["status"] == "open" and rec["date_booked"]
        rows = await entries(c, rec["id"])
        assert [r["policy_number"] for r in rows] == ["POL-0001", "POL-0002"]  # history excluded
        assert len(await entries(c, rec["id"], include_history="true")) == 3
        # the seed's filters, sorts and quick searches
        rid = rec["id"]
        assert [r["policy_number"] for r in await entries(c, rid, sort1="policy_number", order1="desc")] == [
            "POL-0002", "POL-0001"]
        assert len(await entries(c, rid, policy="0002")) == 1
        assert len(await entries(c, rid, client="client 1")) == 1
        assert len(await entries(c, rid, name="CLIENT", branch="North", unit="U1", business_type="commercial",
                                 line_of_business="AUTOP", mode="new", status="active")) == 2
        assert len(await entries(c, rid, branch="South")) == 0
        assert len(await entries(c, rid, amount_type="premium", amount_min="1000", amount_max="1000")) == 2
        assert len(await entries(c, rid, amount_type="commission", amount_min="100.01")) == 0
        assert len(await entries(c, rid, date_type="policy_effective", date_from="2026-02-01")) == 0
        assert len(await entries(c, rid, date_type="coverage_effective", date_to="2026-01-01")) == 2
        bad = await c.get(f"/api/reconciliations/{rid}/entries", params={"sort1": "nonsense"})
        assert bad.status_code == 422
        r1 = rows[0]
        save = await c.patch(f"/api/reconciliations/{rec['id']}/entries", json={"items": [
            {"id": r1["id"], "version": r1["version"], "rate": "12%", "selected": True}]})
        assert save.status_code == 200, save.text
        saved = save.json()["saved"][0]
        assert saved["commission_paid"] == "120.00" and saved["selected"] and saved["selected_at"]
        created = await c.post(f"/api/reconciliations/{rec['id']}/create-invoices", headers={"Idempotency-Key": "k1"})
        assert created.status_code == 200, created.text
        assert created.json()["created"] == 1
        again = await c.post(f"/api/reconciliations/{rec['id']}/create-invoices", headers={"Idempotency-Key": "k1"})
        assert again.json()["replayed"] is True
        inv = (await c.get(f"/api/reconciliations/{rec['id']}/invoices")).json()["items"]
        assert len(inv) == 1 and inv[0]["item_id"].endswith("(S)")
        posted = await c.post(f"/api/reconciliations/{rec['id']}/post", json={})
        assert posted.status_code == 200, posted.text
        assert posted.json()["posted"] == 1
        tx = (await c.get(f"/api/reconciliations/{rec['id']}/transactions")).json()["items"]
        r = await c.patch(f"/api/reconciliations/{rec['id']}/transactions",
                          json={"items": [{"invoice_id": tx[0]["id"], "selected": True}]})
        assert r.status_code == 200, r.text
        tx = (await c.get(f"/api/reconciliations/{rec['id']}/transactions")).json()["items"]
        assert tx[0]["received"] == "120.00" and tx[0]["new_balance"] == "0.00"
        paid = await c.post(f"/api/reconciliations/{rec['id']}/pay", json={})
        assert paid.status_code == 200, paid.text
        head = (await c.get(f"/api/reconciliations/{rec['id']}")).json()
        assert head["status"] == "paid"
        assert Decimal(head["received_total"]) == Decimal("120.00")
        assert Decimal(head["difference"]) == Decimal("0.00")
        # reset premium and commission to zero: every found row but the selected (and invoiced) ones
        reset = await c.post(f"/api/reconciliations/{rec['id']}/entries/reset-amounts")
        assert reset.json()["reset"] == 1
        zeroed = {r["policy_number"]: r for r in await entries(c, rec["id"])}
        assert zeroed["POL-0002"]["premium_paid"] == "0.00" and zeroed["POL-0002"]["commission_paid"] == "0.00"
        assert zeroed["POL-0001"]["commission_paid"] == "120.00"
        for kind in ("summary", "exceptions", "remittance"):
            for fmt in ("json", "csv", "html"):
                rep = await c.get(f"/api/reconciliations/{rec['id']}/reports/{kind}", params={"format": fmt})
                assert rep.status_code == 200, (kind, fmt, rep.text)
                if fmt == "csv":  # a download, named by agency_common's attachment()
                    assert rep.headers["content-disposition"] == f'attachment; filename="{kind}-{rec["id"]}.csv"'


async def test_background_create_invoices_and_late_policies(start_service, token_for, kafka) -> None:
    from tests.support.inprocess import eventually

    svc = await start_service("invoicing", background_threshold=1, background_chunk=2)
    await publish(kafka, [policy(i) for i in range(1, 4)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 3)
        rec = await open_rec(c)
        rid = rec["id"]
        # a policy intake creates later joins the open reconciliation's statement entry
        await publish(kafka, [policy(4, policy_number="LATE-1")])

        async def four() -> bool:
            return len(await entries(c, rid)) == 4
        await eventually(four, message="late policy in statement entry")
        r = await c.post(f"/api/reconciliations/{rid}/entries/select", params={"policy": "POL"},
                         json={"all_matching": True})
        assert r.json()["changed"] == 3
        started = await c.post(f"/api/reconciliations/{rid}/create-invoices", headers={"Idempotency-Key": "bg"})
        assert started.status_code == 202, started.text
        job_id = started.json()["job"]["id"]
        again = await c.post(f"/api/reconciliations/{rid}/create-invoices", headers={"Idempotency-Key": "bg"})
        assert again.json()["job"]["id"] == job_id

        async def finished() -> dict | None:
            job = (await c.get(f"/api/jobs/{job_id}")).json()
            return job if job["status"] in ("done", "failed") else None
        job = await eventually(finished, message="job done")
        assert job["status"] == "done" and job["result"]["created"] == 3 and job["done"] == 3
        assert (await c.get(f"/api/reconciliations/{rid}")).json()["status"] == "invoiced"
        page = await c.get(f"/reconciliations/{rid}/jobs/{job_id}")
        assert page.status_code == 200 and "done" in page.text
    # a job a stopped process left running carries on when the service starts again
    from agency_common.timeutil import utcnow
    from invoicing.models import Job
    async with svc.runtime.uow(actor="clerk") as tx:
        tx.session.add(Job(id="left-running", reconciliation_id=rid, kind="create-invoices", status="running",
                           total=0, created_at=utcnow(), created_by="clerk"))
    again = await start_service("invoicing", database_url=svc.settings.database_url)
    async with again.as_user(token_for("clerk")) as c2:
        async def resumed() -> bool:
            return (await c2.get("/api/jobs/left-running")).json()["status"] == "done"
        await eventually(resumed, message="left-running job resumed")
