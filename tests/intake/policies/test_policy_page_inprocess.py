"""A policy's page (issue 15): its statement lines (statement, carrier, amounts, match reason, status) and the
postings applied to it (each linked to its reconciliation in invoicing), each list a page at a time with a
total and sortable headers; the same through the JSON API. Real broker and database."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

from agency_common.contracts.invoicing import InvoicePosted, InvoicesPosted, PostedInvoice

from tests.intake.statements.test_feed_events_inprocess import publish
from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

STATEMENT = (
    "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
    "PP-1,Jane Roe,NBS,01/15/2026,01/15/2027,AUTOP,\"$1,234.56\",15%,185.18\r\n"
    "PP-1,Jane Roe,PCH,2026-03-01,2027-01-15,AUTOP,100.00,15%,15.00\r\n"
    "PP-1,Jane Roe,END,2026-04-01,2027-01-15,AUTOP,50.00,15%,7.50\r\n"
    "OTHER-9,Somebody Else,NBS,2026-01-01,2027-01-01,AUTOP,10.00,10%,1.00\r\n"
)


async def _policy_with_lines(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    await register_carriers(client, "Acme")
    r = await client.post("/api/policies", json={"carrier": "Acme", "policy_number": "PP-1", "client_name": "Jane Roe",
                                                 "effective_date": "2026-01-15", "expiration_date": "2027-01-15"})
    assert r.status_code == 201, r.text
    files = {"file": ("acme-october.csv", STATEMENT.encode(), "text/csv")}
    r = await client.post("/api/statements", files=files, data={"carrier": "Acme"})
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    assert (await wait_imported(client, sid))["matched"] == 3
    return sid, (await client.get("/api/policies", params={"q": "PP-1"})).json()["items"][0]["policy_id"]


async def test_policy_page_lists_its_lines_and_postings(start_service, token_for) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    async with intake.as_user(token_for("clerk")) as client:
        sid, policy_id = await _policy_with_lines(client)

        lines = (await client.get(f"/api/policies/{policy_id}/lines", params={"sort": "premium"})).json()
        assert lines["total"] == 3 and [x["premium"] for x in lines["items"]] == ["50.00", "100.00", "1234.56"]
        first = lines["items"][2]
        assert (first["statement_id"], first["statement_file"], first["carrier"], first["line_no"]) == (
            sid, "acme-october.csv", "Acme", 2)
        assert first["commission"] == "185.18" and first["match_status"] == "matched" and first["match_reason"]
        assert first["status"] == "matched, imported, not yet sent to invoicing"
        two = (await client.get(f"/api/policies/{policy_id}/lines", params={"limit": 2, "offset": 2,
                                                                            "sort": "line_no"})).json()
        assert two["total"] == 3 and [x["line_no"] for x in two["items"]] == [4]
        assert (await client.get(f"/api/policies/{policy_id}/lines", params={"sort": "ssn"})).status_code == 422
        assert (await client.get("/api/policies/nope/lines")).status_code == 404

        # invoicing posts twice: one invoice alone, then a chunk; each kept with its reconciliation
        await publish(rt, InvoicePosted(invoice_id="inv-1", reconciliation_id="rec-one", policy_id=policy_id,
                                        bill_type="term_policy", effective_date=date(2026, 1, 15),
                                        premium=Decimal("1234.56"), commission=Decimal("185.18")), producer="invoicing")
        await publish(rt, InvoicesPosted(reconciliation_id="rec-two", invoices=[
            PostedInvoice(invoice_id="inv-2", policy_id=policy_id, bill_type="endorsement",
                          effective_date=date(2026, 4, 1), premium=Decimal("50.00"), commission=Decimal("7.50")),
            PostedInvoice(invoice_id="inv-x", policy_id=str(uuid.uuid4()), bill_type="endorsement",
                          premium=Decimal("1.00"), commission=Decimal("0.10"))]), producer="invoicing")

        async def both_posted():
            body = (await client.get(f"/api/policies/{policy_id}/postings")).json()
            return body if body["total"] == 2 else None
        postings = await eventually(both_posted, message="both postings applied and kept")
        by_invoice = {p["invoice_id"]: p for p in postings["items"]}
        assert by_invoice["inv-1"]["reconciliation_id"] == "rec-one" and by_invoice["inv-1"]["premium"] == "1234.56"
        assert by_invoice["inv-2"]["reconciliation_id"] == "rec-two" and by_invoice["inv-2"]["commission"] == "7.50"
        assert by_invoice["inv-2"]["posted_by"] == "feed-bot" and by_invoice["inv-2"]["event_id"]
        by_premium = (await client.get(f"/api/policies/{policy_id}/postings", params={"sort": "-premium"})).json()
        assert [p["invoice_id"] for p in by_premium["items"]] == ["inv-1", "inv-2"]

        page = await client.get(f"/policies/{policy_id}", params={"lines_sort": "line_no", "lines_limit": 2})
        assert page.status_code == 200
        shown = page.text.split('<h2 id="lines">')[1].split('<h2 id="postings">')[0]
        assert "3 statement lines: 1–2" in shown
        assert f'href="/statements/{sid}">acme-october.csv</a>' in shown
        assert "<td>Acme</td>" in shown and "1234.56" in shown and "185.18" in shown and "100.00" in shown
        assert "50.00" not in shown, "the third line is on the next page"
        assert "matched, imported, not yet sent to invoicing" in shown
        # the lines' Next keeps the lines' own sort and size; a header sorts the lines only
        assert 'href="?lines_sort=line_no&amp;lines_offset=2&amp;lines_limit=2"' in shown
        assert 'href="?lines_sort=-line_no&amp;lines_offset=0&amp;lines_limit=2"' in shown
        after = page.text.split('<h2 id="postings">')[1]
        assert "2 postings" in after
        assert 'href="http://127.0.0.1:8002/reconciliations/rec-one"' in after
        assert 'href="http://127.0.0.1:8002/reconciliations/rec-two"' in after
        assert "term policy" in after and "endorsement" in after and "feed-bot" in after
        next_page = await client.get(f"/policies/{policy_id}", params={
            "lines_sort": "line_no", "lines_limit": 2, "lines_offset": 2, "postings_sort": "premium"})
        shown = next_page.text.split('<h2 id="lines">')[1].split('<h2 id="postings">')[0]
        assert "3 statement lines: 3–3" in shown and "50.00" in shown and "1234.56" not in shown
        postings_part = next_page.text.split('<h2 id="postings">')[1]
        assert postings_part.index("inv-2") < postings_part.index("inv-1"), "postings sorted by premium"
        assert "postings_sort=premium" in shown, "the lines' links keep the postings' sort"

        # and back: the statement's matched lines link to the policy
        statement = (await client.get(f"/statements/{sid}")).text
        assert statement.count(f'<a href="/policies/{policy_id}">PP-1</a>') == 3 and "OTHER-9</td>" in statement

        # an unknown sort or a huge offset never fails the page
        odd = await client.get(f"/policies/{policy_id}", params={"lines_sort": "ssn", "postings_offset": 10})
        assert odd.status_code == 200 and "3 statement lines" in odd.text
        assert (await client.get(f"/policies/{policy_id}", params={"lines_offset": 2**70})).status_code == 422


async def test_a_policy_with_no_lines_says_so(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Acme")
        r = await client.post("/api/policies", json={"carrier": "Acme", "policy_number": "LONE-1",
                                                     "client_name": "Lone Ranger"})
        policy_id = r.json()["policy_id"]
        page = await client.get(f"/policies/{policy_id}")
        assert "No statement line is matched to this policy." in page.text
        assert "Nothing posted to this policy yet." in page.text
        assert (await client.get(f"/api/policies/{policy_id}/postings")).json() == {
            "total": 0, "offset": 0, "limit": 50, "sort": "-posted_at", "items": []}


async def test_policy_lines_and_postings_need_the_view_permission(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme")
        policy_id = (await clerk.post("/api/policies", json={"carrier": "Acme", "policy_number": "P-9",
                                                              "client_name": "Pat"})).json()["policy_id"]
    async with intake.as_user(token_for("viewer")) as client:
        assert (await client.get(f"/api/policies/{policy_id}/lines")).status_code == 403
        assert (await client.get(f"/api/policies/{policy_id}/postings")).status_code == 403
        assert (await client.get(f"/policies/{policy_id}")).status_code == 403
    async with intake.as_user(token_for("sales")) as sales:  # policies:view without statements:view
        page = await sales.get(f"/policies/{policy_id}")
        assert page.status_code == 200 and "Statement lines" in page.text
        assert re.search(r'href="/statements/', page.text) is None
