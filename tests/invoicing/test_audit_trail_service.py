"""The invoicing audit trail (issue 19 item 6): a reviewer rebuilds who changed which statement-entry
field from what to what (every writer, not only the last), which unposted invoice was deleted with
its amounts, and each post, pay, close and abort with its counts and totals (one row per action)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies


async def trail(admin: Any, **params: Any) -> list[dict[str, Any]]:
    """The audit rows, oldest first (the API answers newest first)."""
    r = await admin.get("/api/audit", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))


async def test_a_reviewer_rebuilds_who_changed_what(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await publish(kafka, [policy(1), policy(2)])
    async with svc.as_user(token_for("clerk")) as clerk, svc.as_user(token_for("admin")) as admin:
        await wait_policies(clerk, 2)
        rec = await open_rec(clerk)
        rid = rec["id"]
        one, two = await entries(clerk, rid)
        base = f"/api/reconciliations/{rid}"
        # two writers of the same row: the clerk's rate and selection, then the admin's commission
        r = await clerk.patch(f"{base}/entries", json={"items": [
            {"id": one["id"], "version": one["version"], "rate": "12%", "selected": True}]})
        assert r.status_code == 200, r.text
        r = await admin.patch(f"{base}/entries", json={"items": [
            {"id": one["id"], "version": r.json()["saved"][0]["version"], "commission_paid": "150.00"}]})
        assert r.status_code == 200, r.text
        # a save that changes nothing leaves no row
        same = r.json()["saved"][0]
        assert (await admin.patch(f"{base}/entries", json={"items": [
            {"id": one["id"], "version": same["version"], "commission_paid": "150.00"}]})).status_code == 200

        history = await trail(admin, action="statement_entry.changed", subject_id=str(one["id"]))
        assert [(h["actor"], h["detail"]["changes"]) for h in history] == [
            ("clerk", {"rate": {"before": "0.100000", "after": "0.120000"},
                       "commission_paid": {"before": "100.00", "after": "120.00"},
                       "selected": {"before": False, "after": True}}),
            ("admin", {"commission_paid": {"before": "120.00", "after": "150.00"},
                       "premium_paid": {"before": "1000.00", "after": "1250.00"}}),
        ]
        assert [h["detail"]["version"] for h in history] == [one["version"] + 1, one["version"] + 2]

        # set-based writers: one row each, with the entries touched
        r = await clerk.post(f"{base}/entries/select", params={"policy": "0002"}, json={"all_matching": True})
        assert r.json()["changed"] == 1
        r = await clerk.post(f"{base}/entries/select", json={"ids": [two["id"]], "selected": False})
        assert r.json()["changed"] == 1
        r = await clerk.post(f"{base}/entries/reset-amounts")
        assert r.json()["reset"] == 1
        bulk = await trail(admin, action="statement_entry.changed", subject_id=rid)
        assert [(b["actor"], b["detail"]["changes"], b["detail"]["entry_id_ranges"], b["detail"]["by"])
                for b in bulk] == [
            ("clerk", {"selected": {"before": False, "after": True}}, [[two["id"], two["id"]]], "search"),
            ("clerk", {"selected": {"before": True, "after": False}}, [[two["id"], two["id"]]], "ids"),
            ("clerk", {"premium_paid": {"before_total": "1000.00", "after": "0.00"},
                       "commission_paid": {"before_total": "100.00", "after": "0.00"}},
             [[two["id"], two["id"]]], "search"),
        ]
        assert bulk[0]["detail"]["filters"] == {"policy": "0002"}

        # an unposted invoice deleted keeps its amounts in the trail
        assert (await clerk.post(f"{base}/create-invoices")).json()["created"] == 1
        invoice = (await clerk.get(f"{base}/invoices")).json()["items"][0]
        assert (await clerk.delete(f"{base}/invoices/{invoice['id']}")).status_code == 200
        [deleted] = await trail(admin, action="invoice.deleted")
        assert deleted["actor"] == "clerk" and deleted["subject_id"] == str(invoice["id"])
        assert {k: deleted["detail"][k] for k in ("reconciliation_id", "entry_id", "premium", "commission")} == {
            "reconciliation_id": rid, "entry_id": one["id"], "premium": "1250.00", "commission": "150.00"}

        # post, pay and close: one row per action with its counts and totals
        assert (await clerk.post(f"{base}/create-invoices")).json()["created"] == 1
        assert (await clerk.post(f"{base}/post", json={})).json()["posted"] == 1
        tx = (await clerk.get(f"{base}/transactions")).json()["items"]
        assert (await clerk.patch(f"{base}/transactions", json={"items": [
            {"invoice_id": tx[0]["id"], "selected": True}]})).status_code == 200
        assert (await clerk.post(f"{base}/pay", json={})).status_code == 200
        assert (await clerk.post(f"{base}/post", json={"target": "reconciliation"})).status_code == 200
        actions = {a["action"]: a for a in await trail(admin, subject_id=rid)
                   if a["action"] != "statement_entry.changed"}
        assert actions["invoices.posted"]["detail"] == {"count": 1, "premium_total": "1250.00",
                                                        "commission_total": "150.00"}
        assert actions["invoices.paid"]["detail"] == {"count": 1, "received_total": "150.00"}
        closed = actions["reconciliation.closed"]["detail"]
        assert closed["paid_count"] == 1 and Decimal(closed["received_total"]) == Decimal("150.00")

        # an abort before posting removes the invoices: their count and commission are recorded
        other = await open_rec(clerk)
        oid = other["id"]
        row = (await entries(clerk, oid))[0]
        await clerk.patch(f"/api/reconciliations/{oid}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "selected": True}]})
        assert (await clerk.post(f"/api/reconciliations/{oid}/create-invoices")).json()["created"] == 1
        assert (await clerk.post(f"/api/reconciliations/{oid}/abort")).status_code == 200
        [aborted] = await trail(admin, action="reconciliation.aborted", subject_id=oid)
        assert aborted["actor"] == "clerk"
        assert {k: aborted["detail"][k] for k in ("stage", "invoices_removed", "removed_commission_total")} == {
            "stage": "invoiced", "invoices_removed": 1, "removed_commission_total": "100.00"}
        # no audit row ever names a client
        everything = str(await trail(admin))
        assert "Client 1" not in everything and "Client 2" not in everything
