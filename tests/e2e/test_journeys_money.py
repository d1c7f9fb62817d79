"""Issue 13, items 1 and 3 in the browser: a statement imported again with the duplicate override waits
for a user to publish it, and its lines (already paid) are flagged on statement entry and not invoiced;
ticks on two pages of Transactions – direct bill are both paid."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import RunningPlatform, Screens, login, reload_until
from tests.support.carriers import register_carriers_sync
from tests.support.services import wait_until

HARBOR = "Harbor Mutual"
STATEMENT = (
    "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
    "HM-1,Ann Able,NBS,01/15/2026,01/15/2027,Personal Auto,1000.00,10%,100.00\r\n"
    "HM-2,Bob Baker,NBS,02/01/2026,02/01/2027,Homeowners,500.00,10%,50.00\r\n"
)
COVE = "Cove Casualty"


@pytest.fixture(scope="module")
def page(context: Any) -> Any:
    p = context.new_page()
    p.on("dialog", lambda dialog: dialog.accept())
    yield p
    p.close()


def _policies(platform: RunningPlatform, carrier: str, numbers: list[str]) -> None:
    with platform.api("intake", "clerk") as api:
        register_carriers_sync(api, carrier)
        for n, number in enumerate(numbers):
            r = api.post("/api/policies", json={"carrier": carrier, "policy_number": number,
                                                "client_name": f"Holder {number}",
                                                "effective_date": f"2026-0{n % 2 + 1}-{'15' if n % 2 == 0 else '01'}"})
            assert r.status_code == 201, r.text
    with platform.api("invoicing", "clerk") as inv:
        wait_until(lambda: inv.get("/api/policies", params={"carrier": carrier}).json()["total"] == len(numbers),
                   timeout=60, message=f"{carrier}'s policies reached invoicing")


def _statement_rec(inv: Any, file_name: str, count: int) -> dict[str, Any] | None:
    recs = [r for r in inv.get("/api/reconciliations", params={"carrier": HARBOR}).json()["items"]
            if r["statement_file"] == file_name]
    return recs[0] if len(recs) == count else None


def test_journey_money_reimported_statement_flagged_not_invoiced(platform: RunningPlatform, page: Any,
                                                                 screens: Screens) -> None:
    intake, invoicing = platform.urls["intake"], platform.urls["invoicing"]
    _policies(platform, HARBOR, ["HM-1", "HM-2"])

    # March's statement: published on its own (every line matched), then created, posted and paid
    with platform.api("intake", "clerk") as api:
        r = api.post("/api/statements", data={"carrier": HARBOR},
                     files={"file": ("harbor-march.csv", STATEMENT.encode(), "text/csv")})
        assert r.status_code == 202, r.text
    with platform.api("invoicing", "clerk") as inv:
        first = wait_until(lambda: _statement_rec(inv, "harbor-march.csv", 1), timeout=60,
                           message="the statement opened a reconciliation")
        wait_until(lambda: inv.get(f"/api/reconciliations/{first['id']}").json()["entry_count"] == 2, timeout=60,
                   message="its lines arrived")
        inv.post(f"/api/reconciliations/{first['id']}/entries/select", json={"all_matching": True})
        done = inv.post(f"/api/reconciliations/{first['id']}/create-pay-all", json={}).json()
        assert (done["outcome"], done["paid"]) == ("done", 2), done
        paid_on = inv.get(f"/api/reconciliations/{first['id']}").json()["updated_at"][:10]

    # the same file again, with the override: imported, and it waits for a user to publish it
    login(page, intake, "clerk", "/statements")
    page.select_option("select[name=carrier]", HARBOR)
    page.set_input_files("input[name=file]", {"name": "harbor-march.csv", "mimeType": "text/csv",
                                              "buffer": STATEMENT.encode()})
    page.check("input[name=override]")
    page.click("form[action='/statements'] button[type=submit]")
    page.wait_for_url("**/statements/*")
    reload_until(page, lambda p: p.inner_text("#status") == "imported", message="the re-import was read")
    assert "not published to invoicing on its own" in page.inner_text("main")
    screens(page, "money-reimport-waits-for-publish")
    page.click("button:text('Publish to invoicing')")
    page.wait_for_load_state()
    reload_until(page, lambda p: p.inner_text("#status") == "published", message="published by the clerk")

    # the new reconciliation's lines are flagged in words; Create Invoices leaves them out and says so
    login(page, invoicing, "clerk", "/reconciliations")
    with platform.api("invoicing", "clerk") as inv:
        second = wait_until(lambda: _statement_rec(inv, "harbor-march.csv", 2), timeout=60,
                            message="the published re-import opened a reconciliation")
        second = next(r for r in inv.get("/api/reconciliations", params={"carrier": HARBOR}).json()["items"]
                      if r["id"] != first["id"])
    page.goto(f"{invoicing}/reconciliations/{second['id']}/entries")
    reload_until(page, lambda p: p.locator("#grid tbody tr").count() == 2 and "already paid" in p.inner_text("#grid"),
                 message="both lines on statement entry")
    flags = page.locator("#grid .duplicate").all_inner_texts()
    assert len(flags) == 2 and all(f.startswith(f"already paid in reconciliation {first['number']} on {paid_on}")
                                   and "not invoiced unless confirmed" in f for f in flags), flags
    screens(page, "money-duplicate-lines-flagged")
    page.click("button:text('Select all found')")
    page.wait_for_load_state()
    page.goto(f"{invoicing}/reconciliations/{second['id']}")
    page.click("button:text('Create Invoices')")
    page.wait_for_url("**/invoices*")
    message = page.inner_text("#message")
    assert message.startswith("0 invoices created") and \
        "2 selected rows excluded as already invoiced or paid in another reconciliation" in message, message
    assert page.locator("#post-form tbody tr", has_text="HM-").count() == 0


def test_journey_money_ticks_on_two_pages_both_paid(platform: RunningPlatform, page: Any, screens: Screens) -> None:
    invoicing = platform.urls["invoicing"]
    _policies(platform, COVE, ["CC-1", "CC-2", "CC-3"])
    with platform.api("invoicing", "clerk") as inv:
        rec = inv.post("/api/reconciliations", json={"carrier": COVE}).json()
        rows = inv.get(f"/api/reconciliations/{rec['id']}/entries").json()["items"]
        items = [{"id": r["id"], "version": r["version"], "premium_paid": "1000.00", "rate": "10%",
                  "bill_type": "term_policy", "selected": True} for r in rows]
        assert inv.patch(f"/api/reconciliations/{rec['id']}/entries", json={"items": items}).status_code == 200
        assert inv.post(f"/api/reconciliations/{rec['id']}/create-invoices", json={}).json()["created"] == 3
        assert inv.post(f"/api/reconciliations/{rec['id']}/post", json={}).json()["posted"] == 3

    login(page, invoicing, "clerk", f"/reconciliations/{rec['id']}/transactions?size=2")
    rows_on = page.locator("#pay-form tbody tr")
    assert rows_on.count() == 2 and "0 selected (total $0.00)" in page.inner_text("#selection-summary")
    first = rows_on.nth(0)
    first_policy = first.locator("td").nth(5).inner_text()
    first.locator("input[type=checkbox]").check()
    page.locator("#selection-summary", has_text=re.compile(r"^\s*1 selected")).wait_for()
    page.click("a:text('next')")
    page.wait_for_url("**page=2*")
    assert "1 selected (total $100.00)" in page.inner_text("#selection-summary"), "the tick of page 1 is kept"
    last = page.locator("#pay-form tbody tr").nth(0)
    last_policy = last.locator("td").nth(5).inner_text()
    last.locator("input[type=checkbox]").check()
    page.locator("#selection-summary", has_text=re.compile(r"^\s*2 selected")).wait_for()
    assert "2 selected (total $200.00)" in page.inner_text("#selection-summary")
    screens(page, "money-ticks-on-two-pages")
    page.click("#pay-form button:text('Pay All Selected')")
    page.wait_for_url("**/transactions*")
    assert page.inner_text("#message") == "Paid 2 invoices: 200.00 received."
    with platform.api("invoicing", "clerk") as inv:
        listed = inv.get(f"/api/reconciliations/{rec['id']}/transactions").json()["items"]
    status = {i["policy_number"]: i["status"] for i in listed}
    assert status[first_policy] == "paid" and status[last_policy] == "paid", status
    assert sorted(status.values()) == ["paid", "paid", "posted"], status
