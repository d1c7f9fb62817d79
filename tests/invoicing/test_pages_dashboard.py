"""The dashboard pages at each stage, driven like a browser would (forms, htmx row select)."""

from __future__ import annotations

import re

from tests.invoicing.helpers import entries, policy, publish, wait_policies


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


async def test_pages_through_the_stages(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await publish(kafka, [policy(1), policy(2, bill_to_name="Bill Payer")])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 2)
        assert (await c.get("/reconciliations")).status_code == 200
        home = await c.get("/")
        assert home.status_code == 200 and 'id="policy-count">2<' in home.text
        r = await c.post("/people-defaults", data={"carrier": "Acme Mutual", "employee": "Pat",
                                                   "production_role": "producer", "rate_type": "percent",
                                                   "rate": "40%", "credit_share": "50%"})
        assert r.status_code == 303 and "message" in r.headers["location"]
        assert "Pat" in (await c.get("/people-defaults", params={"carrier": "Acme Mutual"})).text
        r = await c.post("/reconciliations/new", data={"carrier": "Acme Mutual", "address": "1 Main St"})
        assert r.status_code == 303
        rec_url = r.headers["location"]
        rid = rec_url.rsplit("/", 1)[1]
        page = await c.get(rec_url)
        assert page.status_code == 200 and "Create / Pay All" in page.text
        grid = await c.get(f"{rec_url}/entries", params={"searched": "1", "include_selected": "true",
                                                         "sort1": "client", "order1": "desc"})
        assert grid.status_code == 200 and "Bill Payer" in grid.text
        rows = await entries(c, rid)
        a, b = rows
        form = {"idempotency_key": _key(grid.text), "page": "1"}
        for row in rows:
            form[f"version-{row['id']}"] = str(row["version"])
            for f in ("premium_paid", "rate", "commission_paid", "effective_date", "rate_type", "bill_type"):
                form[f"orig-{row['id']}-{f}"] = row[f] or ""
                form[f"row-{row['id']}-{f}"] = row[f] or ""
        bad = {**form, f"row-{a['id']}-premium_paid": "12x", f"row-{b['id']}-rate": "200%"}
        r = await c.post(f"{rec_url}/entries/save", data=bad)
        assert r.status_code == 422 and "12x" in r.text and "Nothing saved" in r.text
        good = {**form, f"row-{a['id']}-rate": "20%", f"row-{b['id']}-add_rows": "1"}
        r = await c.post(f"{rec_url}/entries/save", data=good)
        assert r.status_code == 303, r.text
        # the same form again (another operator's stale page): refused, nothing lost or overwritten
        stale = await c.post(f"{rec_url}/entries/save", data={**good, f"row-{a['id']}-rate": "30%",
                                                                "idempotency_key": "another-page"})
        assert stale.status_code == 409 and "changed" in stale.text
        r = await c.post(f"{rec_url}/entries/select-found", data={"q-policy": "0002", "selected": "1"})
        assert r.status_code == 303 and "2+rows+selected" in r.headers["location"]
        r = await c.post(f"{rec_url}/entries/select-found", data={"q-policy": "0002", "selected": "0"})
        assert r.status_code == 303 and "2+rows+unselected" in r.headers["location"]
        rows = await entries(c, rid)
        assert len(rows) == 3 and next(x for x in rows if x["id"] == a["id"])["commission_paid"] == "200.00"
        # search with "reset premium and commission to zero" (one shot: the next page has it unchecked)
        r = await c.post(f"{rec_url}/entries/reset", data={"searched": "1", "policy": "0002", "reset": "1",
                                                           "include_selected": "true"})
        assert r.status_code == 303 and "2+rows+reset" in r.headers["location"]
        assert 'name="reset" value="1">' in (await c.get(r.headers["location"])).text
        zero = [x for x in await entries(c, rid) if x["policy_number"] == "POL-0002"]
        assert {x["commission_paid"] for x in zero} == {"0.00"}
        a = next(x for x in rows if x["id"] == a["id"])
        sel = await c.post(f"{rec_url}/entries/{a['id']}/select",
                           data={f"sel-{a['id']}": "on", f"version-{a['id']}": str(a["version"])})
        assert sel.status_code == 200 and 'checked' in sel.text and f'id="row-{a["id"]}"' in sel.text
        assert 'id="rec-figures" hx-swap-oob="true"' in sel.text and "1 selected" in sel.text
        others = await c.get(f"{rec_url}/entries/{a['id']}/others")
        assert others.status_code == 200
        r = await c.post(f"{rec_url}/entries/{a['id']}/others", data={
            "employee": "Pat", "production_role": "producer", "production_credit": "150.00",
            "rate_type": "percent", "rate": "10%"})
        assert r.status_code == 303
        # Create/Pay All → exceptions popup → Create/Pay Invoices - Post → post popup
        page = await c.get(rec_url)
        popup = await c.post(f"{rec_url}/create-pay-all", data={"idempotency_key": _key(page.text)})
        assert popup.status_code == 200 and "exceptions-popup" in popup.text
        assert "Create/Pay Invoices - Post" in popup.text
        cancel = await c.post(f"{rec_url}/create-pay-all", data={"idempotency_key": "x", "decision": "cancel"})
        assert cancel.status_code == 303
        # fix the credit, then Create Invoices, the unposted list, Post, pay from the transactions page
        others = await entries(c, rid)
        oc = next(x for x in others if x["id"] == a["id"])["other_commissions"][0]
        r = await c.post(f"{rec_url}/others/{oc['id']}/remove", data={"entry_id": str(a["id"])})
        assert r.status_code == 303
        page = await c.get(rec_url)
        r = await c.post(f"{rec_url}/create-invoices", data={"idempotency_key": _key(page.text)})
        assert r.status_code == 303 and "/invoices" in r.headers["location"]
        inv = await c.get(f"{rec_url}/invoices")
        assert inv.status_code == 200 and "(S)" in inv.text
        r = await c.post(f"{rec_url}/post-invoices", data={"idempotency_key": _key(inv.text)})
        assert r.status_code == 303
        tx = await c.get(f"{rec_url}/transactions")
        assert tx.status_code == 200 and "Pay All Selected" in tx.text
        items = (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]
        data = {"idempotency_key": _key(tx.text), "action": "pay"}
        for i in items:
            data.update({f"shown-{i['id']}": "1", f"was-{i['id']}": "0", f"sel-{i['id']}": "on",
                         f"received-{i['id']}": "", f"oldreceived-{i['id']}": ""})
        r = await c.post(f"{rec_url}/transactions/save", data=data)
        assert r.status_code == 303 and "Paid" in r.headers["location"]
        head = (await c.get(f"/api/reconciliations/{rid}")).json()
        assert head["status"] == "paid" and head["received_total"] == "200.00"
        for kind in ("summary", "exceptions", "remittance"):
            rep = await c.get(f"{rec_url}/reports/{kind}")
            assert rep.status_code == 200 and "window.print()" in rep.text
        r = await c.post(f"{rec_url}/abort", data={"idempotency_key": "ab"})
        assert r.status_code == 303
        assert (await c.get(rec_url)).status_code == 200
    async with svc.as_user(token_for("viewer")) as v:
        assert (await v.get("/reconciliations")).status_code == 403
        home = await v.get("/")  # the book of business and the reconciliations by status: a read permission
        assert home.status_code == 403 and "reconciliations:view" in home.text
        refused = await v.post(f"{rec_url}/abort", data={"idempotency_key": "viewer-abort"})
        assert refused.status_code == 403 and "reconciliations:edit" in refused.text
        assert (await v.post("/api/reconciliations", json={"carrier": "X"})).status_code == 403
