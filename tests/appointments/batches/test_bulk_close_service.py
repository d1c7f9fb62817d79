"""Bulk close from a filtered list: Ready and JIT Held transactions listed a page at a time with the
total, narrowed by state, CoCode, NPN, batch, and closed in one action with a reason (ticked rows, or
all that match) through the one guarded close, audited with the filter."""

from __future__ import annotations

import html

from appointments.domain import vocabulary as v

from tests.appointments.helpers import CA_LH, FL_LH, TX_LH, add_producer


async def test_ready_and_held_transactions_close_in_bulk_from_a_filtered_list(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await add_producer(rt, "5580001", [("TX", TX_LH, True), ("CA", CA_LH, False), ("FL", FL_LH, False)])
    await add_producer(rt, "5580002", [("TX", TX_LH, True), ("CA", CA_LH, False)])
    client = svc.as_user(token_for("licensing"))
    await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5580001", "states": ["CA", "FL"], "loa_category": "Life & Health", "cocodes": ["60054"]},
        {"npn": "5580002", "states": ["CA", "WY"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})
    # 4 + 4 Ready in CA, 3 JIT Held in FL (JIT for 60054), 1 Not Eligible in WY (not listed by default)

    listed = (await client.get("/api/transactions", params={"limit": 5, "sort": "npn"})).json()
    assert (listed["total"], len(listed["items"])) == (11, 5)
    assert {t["status"] for t in listed["items"]} <= {v.READY, v.JIT_HELD}
    rest = (await client.get("/api/transactions", params={"limit": 5, "offset": 10, "sort": "npn"})).json()
    assert len(rest["items"]) == 1 and rest["items"][0]["npn"] == "5580002"
    fl = (await client.get("/api/transactions", params={"state": "fl"})).json()
    assert fl["total"] == 3 and {t["status"] for t in fl["items"]} == {v.JIT_HELD}
    assert (await client.get("/api/transactions", params={"status": "any"})).json()["total"] == 12
    bad = await client.get("/api/transactions", params={"state": "ZZ", "status": "Maybe"})
    assert bad.status_code == 422 and "'ZZ' is not a US state code" in bad.text and "'Maybe' is not a transaction status" in bad.text

    # All that match: producer 1's CA lines only.
    closed = (await client.post("/api/transactions/close-matching", json={
        "state": "CA", "npn": "5580001", "reason": "producer moved to another carrier"})).json()
    assert (closed["matched"], closed["closed"], closed["refused"]) == (4, 4, [])
    assert (await client.get("/api/transactions")).json()["total"] == 7
    gone = (await client.get("/api/transactions", params={"status": v.CLOSED, "npn": "5580001"})).json()["items"]
    assert {(t["close_reason"], t["closed_by"], t["billable"], t["fee"]) for t in gone} == {
        ("producer moved to another carrier", "licensing", False, None)}
    closed_page = (await client.get("/transactions", params={"status": v.CLOSED})).text
    assert "producer moved to another carrier" in closed_page and "#why" not in closed_page  # eligible, only closed
    refused = await client.post("/api/transactions/close-matching", json={"status": v.NOT_ELIGIBLE, "reason": "x"})
    assert refused.status_code == 422 and "Ready to Submit or JIT Held" in refused.text
    assert (await client.post("/api/transactions/close-matching", json={"state": "FL", "reason": " "})).status_code == 422

    # The page: the filter, the pager and both ways to close; errors said with the input kept.
    page = html.unescape((await client.get("/transactions", params={"state": "FL"})).text)
    assert "3 transactions" in page and "Close all 3 matching" in page
    no_reason = await client.post("/transactions/close", data={"state": "FL", "scope": "matching", "reason": ""})
    assert no_reason.status_code == 422 and "Say why they are closed" in no_reason.text
    assert 'name="state" value="FL"' in no_reason.text  # the filter kept
    one = fl["items"][0]["id"]
    ticked = await client.post("/transactions/close", data={"state": "FL", "scope": "selected",
                                                            "transaction_id": [one], "reason": "duplicate request"})
    assert ticked.status_code == 200 and "Closed 1 of 1." in ticked.text
    nothing = await client.post("/transactions/close", data={"state": "FL", "scope": "selected", "reason": "x"})
    assert nothing.status_code == 422 and "Tick the transactions to close" in nothing.text
    rest_fl = await client.post("/transactions/close", data={"state": "FL", "scope": "matching",
                                                             "reason": "state no longer sold", "offset": "abc"})
    assert "Closed 2 of 2." in rest_fl.text
    assert (await client.get("/api/transactions", params={"state": "FL"})).json()["total"] == 0

    async with svc.as_user(token_for("admin")) as admin:
        trail = (await admin.get("/api/audit", params={"action": "transactions.closed"})).json()["items"][::-1]
    details = [x["detail"] for x in trail]
    assert [(d["closed"], d["chosen_by"], d.get("filter")) for d in details] == [
        (4, "filter", {"state": "CA", "npn": "5580001"}), (1, "selection", None), (2, "filter", {"state": "FL"})]
    assert [x["actor"] for x in trail] == ["licensing"] * 3

    viewer = svc.as_user(token_for("viewer"))
    assert (await viewer.get("/api/transactions")).status_code == 403
    assert (await viewer.post("/api/transactions/close-matching", json={"reason": "x"})).status_code == 403
    assert (await viewer.get("/transactions")).status_code == 403
    clerk = svc.as_user(token_for("clerk"))
    assert (await clerk.post("/transactions/close", data={"scope": "matching", "reason": "x"})).status_code == 403
