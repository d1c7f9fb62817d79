"""Issue 13, items 1, 3 and 4 (money integrity), through HTTP, the database and the real broker.

1. The same statement imported again with the duplicate override is not published on its own; once
   a user publishes it, its lines are flagged as already paid and neither Create Invoices nor
   Create/Pay All invoices them until an operator with ``reconciliations:override_duplicate``
   confirms (recording the user).
3. Ticks on Transactions – direct bill are kept on the server across pages: a row ticked on page 1
   and one on page 2 are both paid.
4. The posted invoices of a reconciliation aborted after posting are offered to the carrier's next
   reconciliation and paid there exactly once; the abort confirmation says so.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.invoicing.helpers import entries, known_carrier, open_rec, policy, publish, wait_policies
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

CARRIER = "Acme Mutual"
STATEMENT = (
    "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
    "DUP-1,Jane Roe,NBS,01/15/2026,01/15/2027,AUTOP,1000.00,10%,100.00\r\n"
    "DUP-2,John Doe,NBS,02/01/2026,02/01/2027,HOME,500.00,10%,50.00\r\n"
)


def _message(response: Any) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["message"][0]


async def _statement_done(ic: Any, sid: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = (await ic.get(f"/api/statements/{sid}")).json()
        return body if body["status"] in ("imported", "published", "failed") else None
    return await eventually(done, timeout=30, message="statement read")


async def _statement_reconciliation(c: Any, sid: str, lines: int) -> dict[str, Any]:
    async def arrived() -> dict[str, Any] | None:
        for item in (await c.get("/api/reconciliations", params={"limit": 500})).json()["items"]:
            if item["statement_id"] == sid:
                rec = (await c.get(f"/api/reconciliations/{item['id']}")).json()
                return rec if rec["entry_count"] == lines else None
        return None
    return await eventually(arrived, timeout=30, message=f"statement {sid} reconciled in invoicing")


async def test_a_statement_imported_again_is_not_invoiced_or_paid_twice(start_service, token_for) -> None:
    intake = await start_service("intake")
    invoicing = await start_service("invoicing")
    files = {"file": ("acme-march.csv", STATEMENT.encode("utf-8-sig"), "text/csv")}
    async with intake.as_user(token_for("clerk")) as ic, invoicing.as_user(token_for("clerk")) as c, \
            invoicing.as_user(token_for("admin")) as lead:
        await register_carriers(ic, CARRIER)
        for number, eff in (("DUP-1", "2026-01-15"), ("DUP-2", "2026-02-01")):
            r = await ic.post("/api/policies", json={"carrier": CARRIER, "policy_number": number,
                                                     "client_name": f"Holder {number}", "effective_date": eff})
            assert r.status_code == 201, r.text
        await wait_policies(c, 2)

        # the first import is matched in full and published on its own; both lines are paid
        r = await ic.post("/api/statements", files=files, data={"carrier": CARRIER})
        assert r.status_code == 202, r.text
        first = await _statement_done(ic, r.json()["id"])
        assert first["status"] == "published", first
        rec1 = await _statement_reconciliation(c, first["id"], 2)
        r = await c.post(f"/api/reconciliations/{rec1['id']}/entries/select", json={"all_matching": True})
        assert r.json()["changed"] == 2
        paid = await c.post(f"/api/reconciliations/{rec1['id']}/create-pay-all", json={})
        assert paid.status_code == 200 and paid.json()["outcome"] == "done", paid.text
        assert (paid.json()["created"], paid.json()["paid"], paid.json()["duplicates_excluded"]) == (2, 2, 0)
        paid_on = (await c.get(f"/api/reconciliations/{rec1['id']}")).json()["updated_at"][:10]

        # the same file with the duplicate override: imported, but it waits for a user to publish it
        r = await ic.post("/api/statements", files=files, data={"carrier": CARRIER, "override": "true"})
        assert r.status_code == 202, r.text
        again = await _statement_done(ic, r.json()["id"])
        assert again["status"] == "imported" and again["published_at"] is None, again
        assert again["duplicate_of"] == first["id"] and again["publishes_on_its_own"] is False
        r = await ic.post(f"/api/statements/{again['id']}/publish", json={"exclude_unmatched": False})
        assert r.status_code == 200 and r.json()["published_by"] == "clerk", r.text
        rec2 = await _statement_reconciliation(c, again["id"], 2)
        assert rec2["number"] == rec1["number"] + 1

        # flagged on entry, in words
        rows = await entries(c, rec2["id"])
        for row in rows:
            assert row["duplicate"]["message"].startswith(
                f"already paid in reconciliation {rec1['number']} on {paid_on} (item "), row["duplicate"]
            assert row["duplicate"]["reconciliation_id"] == rec1["id"] and row["duplicate_excluded"] is True
        page = await c.get(f"/reconciliations/{rec2['id']}/entries")
        assert f"already paid in reconciliation {rec1['number']} on {paid_on}" in page.text
        assert "Confirm (invoice again)" not in page.text  # the clerk may not override

        # neither Create Invoices nor Create/Pay All invoices them; the count left out is reported
        await c.post(f"/api/reconciliations/{rec2['id']}/entries/select", json={"all_matching": True})
        r = await c.post(f"/api/reconciliations/{rec2['id']}/create-invoices", json={})
        assert (r.json()["created"], r.json()["duplicates_excluded"]) == (0, 2), r.text
        r = await c.post(f"/api/reconciliations/{rec2['id']}/create-pay-all", json={})
        assert (r.json()["outcome"], r.json()["created"], r.json()["duplicates_excluded"]) == ("done", 0, 2), r.text
        r = await c.post(f"/reconciliations/{rec2['id']}/create-invoices", data={"idempotency_key": "dash"})
        assert "2 selected rows excluded as already invoiced or paid in another reconciliation" in _message(r)

        # only an operator with the permission confirms, per line (or for the selection); it is recorded
        one = next(row for row in rows if row["policy_number"] == "DUP-1")
        denied = await c.post(f"/api/reconciliations/{rec2['id']}/entries/confirm-duplicates", json={"ids": [one["id"]]})
        assert denied.status_code == 403
        r = await lead.post(f"/api/reconciliations/{rec2['id']}/entries/confirm-duplicates", json={"ids": [one["id"]]})
        assert r.status_code == 200 and r.json()["changed"] == 1, r.text
        confirmed = next(row for row in await entries(c, rec2["id"]) if row["id"] == one["id"])
        assert confirmed["duplicate_confirmed_by"] == "admin" and confirmed["duplicate_excluded"] is False
        r = await c.post(f"/api/reconciliations/{rec2['id']}/create-invoices", json={})
        assert (r.json()["created"], r.json()["duplicates_excluded"]) == (1, 1), r.text
        listed = (await c.get(f"/api/reconciliations/{rec2['id']}/invoices")).json()["items"]
        assert [i["policy_number"] for i in listed] == ["DUP-1"]


async def test_an_admin_confirms_the_selected_duplicates_from_the_dashboard(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await known_carrier(svc)
    await publish(kafka, [policy(i) for i in (1, 2)])
    async with svc.as_user(token_for("clerk")) as c, svc.as_user(token_for("admin")) as lead:
        await wait_policies(c, 2)
        first = await open_rec(c)
        await c.post(f"/api/reconciliations/{first['id']}/entries/select", json={"all_matching": True})
        assert (await c.post(f"/api/reconciliations/{first['id']}/create-invoices", json={})).json()["created"] == 2
        second = await open_rec(c)
        rows = await entries(c, second["id"])
        assert all(r["duplicate"]["message"].startswith(f"already invoiced in reconciliation {first['number']} (item ")
                   for r in rows), rows
        await c.post(f"/api/reconciliations/{second['id']}/entries/select", json={"ids": [rows[0]["id"]]})
        page = await lead.get(f"/reconciliations/{second['id']}/entries")
        assert "Confirm (invoice again)" in page.text and "Confirm selected duplicates" in page.text
        r = await lead.post(f"/reconciliations/{second['id']}/entries/confirm-duplicates", data={"confirm_entry": ""})
        assert _message(r).startswith("1 row confirmed")
        r = await c.post(f"/api/reconciliations/{second['id']}/create-invoices", json={})
        assert (r.json()["created"], r.json()["duplicates_excluded"]) == (1, 0), r.text


async def _posted(c: Any, rec_id: str, count: int) -> list[dict[str, Any]]:
    await c.post(f"/api/reconciliations/{rec_id}/entries/select", json={"all_matching": True})
    assert (await c.post(f"/api/reconciliations/{rec_id}/create-invoices", json={})).json()["created"] == count
    assert (await c.post(f"/api/reconciliations/{rec_id}/post", json={})).json()["posted"] == count
    return (await c.get(f"/api/reconciliations/{rec_id}/transactions", params={"limit": 500})).json()["items"]


def _row_form(i: dict[str, Any], tick: bool) -> dict[str, str]:
    """What the browser sends for one row of Transactions – direct bill (htmx includes the row)."""
    form = {f"shown-{i['id']}": "1", f"paid-{i['id']}": i["paid_to_date"], f"was-{i['id']}": "1" if i["selected"] else "0",
            f"oldreceived-{i['id']}": i["received"] or "", f"received-{i['id']}": i["received"] or ""}
    if tick:
        form[f"sel-{i['id']}"] = "on"
    return form


async def test_ticks_on_two_pages_pay_both(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await known_carrier(svc)
    await publish(kafka, [policy(i) for i in (1, 2, 3)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 3)
        rec = await open_rec(c)
        items = await _posted(c, rec["id"], 3)
        url = f"/reconciliations/{rec['id']}/transactions"
        page1 = await c.get(url, params={"size": 2})
        assert f"txn-{items[0]['id']}" in page1.text and f"txn-{items[2]['id']}" not in page1.text
        r = await c.post(f"{url}/{items[0]['id']}/select", data=_row_form(items[0], tick=True))
        assert r.status_code == 200 and "1 selected (total $100.00)" in r.text, r.text
        page2 = await c.get(url, params={"size": 2, "page": 2})
        assert f"txn-{items[2]['id']}" in page2.text and "1 selected (total $100.00)" in page2.text
        r = await c.post(f"{url}/{items[2]['id']}/select", data=_row_form(items[2], tick=True))
        assert "2 selected (total $200.00)" in r.text
        listed = (await c.get(f"/api/reconciliations/{rec['id']}/transactions", params={"limit": 1})).json()
        assert (listed["selected_count"], listed["selected_total"]) == (2, "200.00")
        # Pay All Selected from page 2: the form holds page 2's rows only, the tick of page 1 is kept
        now = (await c.get(f"/api/reconciliations/{rec['id']}/transactions", params={"limit": 500})).json()["items"]
        r = await c.post(f"{url}/save", data={**_row_form(now[2], tick=True), "action": "pay",
                                              "idempotency_key": "pay-both"})
        assert _message(r) == "Paid 2 invoices: 200.00 received."
        after = {i["id"]: i for i in (await c.get(f"/api/reconciliations/{rec['id']}/transactions")).json()["items"]}
        assert [after[i["id"]]["status"] for i in items] == ["paid", "posted", "paid"]


async def test_select_all_and_clear_all_over_the_filtered_set(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await known_carrier(svc)
    await publish(kafka, [policy(i) for i in (1, 2, 3)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 3)
        rec = await open_rec(c)
        await _posted(c, rec["id"], 3)
        api = f"/api/reconciliations/{rec['id']}/transactions"
        r = await c.post(f"{api}/select-all", params={"policy_number": "POL-000"})
        assert r.json()["changed"] == 3
        r = await c.post(f"{api}/select-all", params={"policy_number": "POL-0002", "selected": "false"})
        assert r.json()["changed"] == 1
        listed = (await c.get(api)).json()
        assert (listed["selected_count"], listed["selected_total"]) == (2, "200.00")
        r = await c.post(f"/reconciliations/{rec['id']}/transactions/select-all",
                         data={"selected": "0", "q-policy_number": "POL-0001"})
        assert _message(r) == "1 cleared."
        assert (await c.get(api)).json()["selected_count"] == 1


async def test_posted_invoices_of_an_aborted_reconciliation_are_paid_once_in_the_next(start_service, token_for,
                                                                                    kafka) -> None:
    svc = await start_service("invoicing")
    await known_carrier(svc)
    await publish(kafka, [policy(i) for i in (1, 2)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 2)
        first = await open_rec(c)
        posted = await _posted(c, first["id"], 2)
        words = "2 posted invoices ($200.00) stay posted and will be offered to the next reconciliation of Acme Mutual"
        preview = (await c.get(f"/api/reconciliations/{first['id']}/abort-preview")).json()
        assert (preview["count"], preview["balance"], preview["sentence"]) == (2, "200.00", words)
        page = await c.get(f"/reconciliations/{first['id']}")
        assert words in page.text  # the abort confirmation and the note beside the button
        r = await c.post(f"/api/reconciliations/{first['id']}/abort", json={})
        assert r.json()["offered_to_next"]["message"] == words, r.text

        # the next reconciliation of the carrier offers them in its Transactions – direct bill
        second = await open_rec(c)
        assert (second["carried_count"], second["carried_balance"]) == (2, "200.00")
        api = f"/api/reconciliations/{second['id']}/transactions"
        offered = (await c.get(api)).json()["items"]
        assert sorted(i["id"] for i in offered) == sorted(i["id"] for i in posted)
        assert all(i["carried_from"]["reconciliation_number"] == first["number"] for i in offered)
        page = await c.get(f"/reconciliations/{second['id']}/transactions")
        assert f"from reconciliation {first['number']}" in page.text
        # their statement-entry rows are the same lines: flagged, not invoiced a second time
        assert all(r["duplicate"] for r in await entries(c, second["id"]))

        # paid there; pay again and abort then: still paid exactly once, and offered again after the abort
        await c.post(f"{api}/select-all")
        r = await c.post(f"/api/reconciliations/{second['id']}/pay", json={})
        assert (r.json()["paid"], r.json()["received_total"]) == (2, "200.00"), r.text
        assert (await c.post(f"/api/reconciliations/{second['id']}/pay", json={})).json()["paid"] == 0
        home = (await c.get(f"/api/reconciliations/{first['id']}/invoices", params={"status": "all"})).json()["items"]
        assert [(i["status"], i["paid_to_date"]) for i in home] == [("paid", "100.00"), ("paid", "100.00")]
        assert (await c.get(f"/api/reconciliations/{second['id']}")).json()["received_total"] == "200.00"
        remittance = (await c.get(f"/api/reconciliations/{second['id']}/reports/remittance")).json()["rows"]
        assert sorted((row[0], row[9]) for row in remittance) == sorted((f"{i['id']}(S)", "100.00") for i in posted)
        third = await open_rec(c)
        assert third["carried_count"] == 0  # paid: nothing stranded
        r = await c.post(f"/api/reconciliations/{second['id']}/abort", json={})
        assert r.json()["payments_voided"] == 2 and r.json()["offered_to_next"]["count"] == 2, r.text
        fourth = await open_rec(c)
        again = (await c.get(f"/api/reconciliations/{fourth['id']}/transactions")).json()["items"]
        assert [(i["status"], i["balance"]) for i in again] == [("posted", "100.00"), ("posted", "100.00")]
        await c.post(f"/api/reconciliations/{fourth['id']}/transactions/select-all")
        assert (await c.post(f"/api/reconciliations/{fourth['id']}/pay", json={})).json()["paid"] == 2
        paid = (await c.get(f"/api/reconciliations/{first['id']}/invoices", params={"status": "all"})).json()["items"]
        assert [i["paid_to_date"] for i in paid] == ["100.00", "100.00"]
