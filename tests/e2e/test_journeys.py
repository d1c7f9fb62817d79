"""The operator journeys of issue 8, in headless Chromium, against the whole platform started as
``make run`` starts it (one platform for this module; the tests run in order and build on each other,
as an agency's week does). Every step checks what a person would check on the screen."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from agency_common.contracts import topics
from agency_common.contracts.envelope import make_envelope
from agency_platform.demo import publish_upstream, run_coroutine, upstream_events

from tests.e2e.conftest import RunningPlatform, Screens, login, reload_until, stat
from tests.support.services import wait_until

CARRIER = "Keystone Casualty"
BOOK = [("KC-100", "Jane Roe", "Personal Auto"), ("KC-101", "John Smith", "Homeowners"),
        ("KC-102", "Maria Garcia", "Personal Auto")]
HEADER = "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt"
MESSY_STATEMENT = "".join(f"{row}\r\n" for row in [
    "Keystone Casualty commission statement",
    "Period: 2026-10",
    "",
    HEADER,
    'KC-100,Jane Roe,NBS,01/15/2026,01/15/2027,Personal Auto,"$1,200.00",15%,180.00',
    "kc 101,John Smith,PCH,2026-02-01,2027-02-01,Homeowners,(100.00),0.15,(15.00)",
    "KC-102,Maria Garcia,END,03/01/2026,03/01/2027,Personal Auto,210.00,12%,25.20",
    ",,,,,,,,",
    "KC-200,Sofia Rossi,NBS,10/01/2026,10/01/2027,Personal Auto,720.00,15%,108.00",
    "KC-201,Daniel Park,NBS,10/05/2026,10/05/2027,Homeowners,1010.00,15%,151.50",
    'KC-300,"=HYPERLINK(""http://x"")",ZZZ,31/31/2026,,Personal Auto,abc,15%,',
    ",,,,,,,,",
    ",Missing Number,NBS,10/07/2026,10/07/2027,Homeowners,500.00,15%,75.00",
])

state: dict[str, Any] = {}


@pytest.fixture(scope="module")
def page(context: Any) -> Any:
    p = context.new_page()
    yield p
    p.close()


def wait_statement_done(page: Any) -> str:
    """The statement page refreshes itself while the import runs; a person waits for the status."""
    return reload_until(page, lambda p: p.inner_text("#status") in ("imported", "published", "failed")
                        and p.inner_text("#status"), message="statement imported")


def test_journey_1_statement_import_to_create_policies(platform: RunningPlatform, page: Any,
                                                       screens: Screens) -> None:
    intake = platform.urls["intake"]
    with platform.api("intake", "admin") as api:  # the carrier, registered; the book of business as it stands
        r = api.post("/api/carriers", json={"name": CARRIER, "aliases": ["Keystone Cas."]})
        assert r.status_code in (201, 409), r.text
        for number, client, lob in BOOK:
            r = api.post("/api/policies", json={"carrier": CARRIER, "policy_number": number, "client_name": client,
                                                "line_of_business": lob, "effective_date": "2026-01-01",
                                                "expiration_date": "2027-01-01", "estimated_premium": "1000.00"})
            assert r.status_code == 201, r.text

    # log in (a wrong password first: the form says so)
    page.goto(f"{intake}/statements")
    assert "/login" in page.url
    page.fill("#username", "clerk")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert "Wrong login or password." in page.inner_text("[role=alert]")
    screens(page, "login")
    login(page, intake, "clerk", "/statements")
    assert page.url.endswith("/statements") and "(clerk)" in page.inner_text("header, nav, body")

    # import a messy statement
    page.select_option("select[name=carrier]", CARRIER)
    page.set_input_files("input[name=file]", {"name": "keystone-2026-10.csv", "mimeType": "text/csv",
                                              "buffer": MESSY_STATEMENT.encode("utf-8-sig")})
    page.click("form[action='/statements'] button[type=submit]")
    page.wait_for_url("**/statements/*")
    assert wait_statement_done(page) == "imported"
    assert (stat(page, "total"), stat(page, "valid"), stat(page, "invalid"), stat(page, "blank")) == (9, 5, 2, 2)
    assert (stat(page, "matched"), stat(page, "unmatched"), stat(page, "ambiguous")) == (3, 2, 0)
    state["statement_url"] = page.url
    body = page.inner_text("table")
    assert "transaction type 'ZZZ' is not mapped" in body and "policy number is missing" in body
    screens(page, "journey1-statement-imported")

    # the invalid rows only, then download them
    page.select_option("select[name=validity]", "invalid")
    page.click("text=Filter")
    assert page.locator("table tbody tr").count() == 2
    with page.expect_download() as download:
        page.click("text=Download invalid rows (CSV)")
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0][-2:] == ["Error line", "Error reasons"] and len(rows) == 3, rows
    assert rows[1][1].startswith("'=HYPERLINK"), rows[1]  # a formula is neutralised
    assert [r[-2] for r in rows[1:]] == ["11", "13"]

    # correct them and re-import
    fixed = io.StringIO()
    writer = csv.writer(fixed)
    writer.writerow(rows[0][:-2])
    writer.writerow(["KC-300", "Ethan Cole", "NBS", "03/31/2026", "03/31/2027", "Personal Auto", "480.00", "15%", "72.00"])
    writer.writerow(["KC-301", "Missing Number", "NBS", "10/07/2026", "10/07/2027", "Homeowners", "500.00", "15%",
                     "75.00"])
    page.goto(f"{intake}/statements")
    page.select_option("select[name=carrier]", CARRIER)
    page.set_input_files("input[name=file]", {"name": "keystone-2026-10-corrected.csv", "mimeType": "text/csv",
                                              "buffer": fixed.getvalue().encode()})
    page.click("form[action='/statements'] button[type=submit]")
    page.wait_for_url("**/statements/*")
    assert wait_statement_done(page) == "imported"
    assert (stat(page, "total"), stat(page, "valid"), stat(page, "invalid"), stat(page, "blank")) == (2, 2, 0, 0)
    assert stat(page, "unmatched") == 2
    state["corrected_url"] = page.url
    screens(page, "journey1-corrected-reimported")

    # Create Policies for the unmatched lines of the first statement
    page.goto(state["statement_url"])
    page.click("text=Create policies from 2 unmatched lines")
    assert "2 unmatched lines become policies" in page.inner_text("body")
    page.fill("input[name=line_of_business]", "Personal Auto")
    page.fill("input[name=branch]", "Harrisburg")
    line_of_park = page.locator("tr", has_text="KC-201")
    line_of_park.locator("input[name$=_line_of_business]").fill("Homeowners")
    screens(page, "journey1-create-policies")
    page.click("text=Create policies >> nth=-1")
    page.wait_for_url("**/policy-sessions/*")
    text = page.inner_text("body")
    assert "by clerk" in text and f"for {CARRIER}: 2 policies" in text, text[:1500]
    table = page.inner_text("table")
    assert "Sofia Rossi" in table and "KC-200" in table and "Daniel Park" in table and "KC-201" in table
    assert "Homeowners" in page.locator("tr", has_text="KC-201").inner_text()
    state["session_url"] = page.url
    screens(page, "journey1-session-preview")

    # the statement: every valid line is matched now
    page.goto(state["statement_url"])
    assert (stat(page, "matched"), stat(page, "unmatched")) == (5, 0)

    # the list of Create Policy Sessions: the right user and count; filter by user; its preview
    page.goto(f"{intake}/policy-sessions")
    first = page.locator("table tbody tr").first
    cells = [c.strip() for c in first.inner_text().split("\t")]
    assert cells[2] == "clerk" and cells[3] == CARRIER and cells[4] == "2", cells
    page.fill("input[name=login]", "nobody")
    page.click("text=Show")
    assert "No sessions." in page.inner_text("table")
    page.fill("input[name=login]", "clerk")
    page.click("text=Show")
    assert "1 sessions" in page.inner_text("form") or page.locator("table tbody tr").count() == 1
    screens(page, "journey1-sessions-list")
    page.locator("table tbody tr").first.locator("a").click()
    assert page.url == state["session_url"]
    assert page.locator("table tbody tr").count() == 2


def row(page: Any, policy_number: str) -> Any:
    return page.locator("#grid tbody tr", has_text=policy_number)


def cell(page: Any, policy_number: str, field: str) -> Any:
    return row(page, policy_number).locator(f"[name$='-{field}'][name^='row-']")


def assert_grid_fits_laptop(page: Any) -> None:
    """On a 1,366 × 768 laptop screen the whole statement entry grid is in view, its Status column too."""
    page.set_viewport_size({"width": 1366, "height": 768})
    status_box = page.locator("#grid th.status").bounding_box()
    grid_width, shown_width = page.evaluate(
        "[document.querySelector('#grid table').scrollWidth, document.querySelector('#grid .grid-wrap').clientWidth]")
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert status_box["x"] >= 0 and status_box["x"] + status_box["width"] <= 1366, status_box
    assert page_width <= 1366, f"the page scrolls sideways: {page_width}px wide"
    assert grid_width <= shown_width, f"the grid ({grid_width}px) is wider than its {shown_width}px"


def test_journey_2_reconciliation_create_pay_post_reports(platform: RunningPlatform, page: Any,
                                                          screens: Screens) -> None:
    invoicing, intake = platform.urls["invoicing"], platform.urls["intake"]
    page.on("dialog", lambda dialog: dialog.accept())

    # the statement, matched in full by journey 1, opened a reconciliation by itself
    page.goto(f"{invoicing}/reconciliations")
    reload_until(page, lambda p: "keystone-2026-10.csv" in p.inner_text("table"), timeout=60,
                 message="the published statement opened a reconciliation")
    screens(page, "journey2-reconciliations")
    page.locator("table tbody tr", has_text="keystone-2026-10.csv").locator("a").first.click()
    page.wait_for_selector("#rec-status")
    assert page.inner_text("#rec-status") == "open"
    assert "5 rows" in page.inner_text("#rec-figures")
    state["rec_url"] = page.url

    # statement entry: commission both ways, a flat rate
    page.click("text=Statement entry")
    page.wait_for_url("**/entries")
    page.locator("#grid tbody tr").first.wait_for()
    assert page.locator("#grid tbody tr").count() == 5
    assert cell(page, "KC-200", "premium_paid").input_value() == "720.00"
    cell(page, "KC-200", "rate").fill("10%")           # a new rate recomputes the commission
    cell(page, "KC-201", "commission_paid").fill("202.00")  # a commission entered recomputes the premium
    cell(page, "KC-102", "rate_type").select_option("flat")  # flat: the commission is the amount
    cell(page, "KC-102", "rate").fill("30.00")
    page.click("#grid button:text('Save')")
    page.wait_for_load_state()
    assert cell(page, "KC-200", "commission_paid").input_value() == "72.00"
    assert cell(page, "KC-201", "premium_paid").input_value() == "1346.67"
    assert cell(page, "KC-102", "premium_paid").input_value() == "210.00"
    assert cell(page, "KC-102", "commission_paid").input_value() == "30.00"

    assert_grid_fits_laptop(page)
    assert page.locator("#grid th abbr[title='Commission paid']").count() == 1  # abbreviations keep their name
    screens(page, "journey2-statement-entry")
    page.set_viewport_size({"width": 1366, "height": 900})

    # an other commission whose production credit exceeds the commission paid: an exception
    row(page, "KC-100").locator("a", has_text="…").click()
    page.wait_for_url("**/others")
    page.fill("input[name=employee]", "Pat Producer")
    page.fill("input[name=production_role]", "Producer")
    page.fill("input[name=production_credit]", "500.00")
    page.fill("input[name=rate]", "10%")
    page.click("form button:text('OK')")  # rate type left on "default", and Pat has no default: refused
    page.wait_for_load_state()
    refused = page.inner_text("#error")
    assert "has errors" in refused and "rate_type" in refused, f"the error names its field: {refused}"
    fill_other_commission(page, "500.00")
    assert "Pat Producer" in row(page, "KC-100").inner_text()

    # select every row, then Create/Pay All: the exception is listed in the popup
    page.click("button:text('Select all found')")
    page.wait_for_load_state()
    page.goto(state["rec_url"])
    assert "5 selected" in page.inner_text("#rec-figures")
    page.click("button:text('Create / Pay All')")
    page.wait_for_selector("#exceptions-popup")
    popup = page.inner_text("#exceptions-popup")
    assert "1 selected items cannot be created" in popup and "KC-100" in popup, popup
    screens(page, "journey2-exceptions-popup")

    # handle it: create/pay the others and post
    page.click("#exceptions-popup button:text('Create/Pay Invoices - Post')")
    page.wait_for_selector("#post-popup")
    assert "4 invoices created, posted and paid" in page.inner_text("#message")
    page.click("#post-popup button:text('Post')")
    page.wait_for_load_state()
    assert page.inner_text("#message") == "Reconciliation posted."
    figures = page.inner_text("#rec-figures")
    assert "4 paid" in figures and "1 exceptions" in figures, figures
    screens(page, "journey2-reconciliation-posted")

    # the three printable reports
    for name, kind, heading in (("Summary", "summary", "Summary"), ("Exceptions", "exceptions", "Exceptions"),
                                ("Remittance advice", "remittance", "Remittance")):
        page.goto(state["rec_url"])
        page.click(f"a:text-is('{name}')")
        page.wait_for_url(f"**/reports/{kind}")
        text = page.inner_text("body")
        assert heading in text, text[:800]
        assert "Keystone" in text
        if kind == "summary":  # term policies: KC-200 (720.00, 72.00) and KC-201 (1346.67, 202.00)
            assert "term policy\tpaid\t2\t2066.67\t274.00" in text, text
        elif kind == "exceptions":
            assert "KC-100" in text
        else:
            assert "KC-200" in text
        screens(page, f"journey2-report-{kind}")

    # intake applied the postings: KC-200's billed premium (term policy: replaces, 720.00)
    with platform.api("intake", "clerk") as api:
        def billed() -> str | None:
            items = api.get("/api/policies", params={"carrier": CARRIER, "limit": 50}).json()["items"]
            policy = next(p for p in items if p["policy_number"] == "KC-200")
            return policy.get("billed_premium")
        assert wait_until(billed, timeout=60, message="intake applied invoicing's posting") == "720.00"
    page.goto(f"{intake}/")
    kc200 = page.locator("table tr", has_text="KC-200").inner_text()
    assert "720.00" in kc200, f"the book of business shows the posting's billed premium: {kc200}"


STATEMENT_NOV = "".join(f"{row}\r\n" for row in [
    HEADER,
    "KC-100,Jane Roe,END,11/01/2026,01/15/2027,Personal Auto,100.00,15%,15.00",
    "KC-101,John Smith,END,11/01/2026,02/01/2027,Homeowners,200.00,15%,30.00",
])
STATEMENT_DEC = "".join(f"{row}\r\n" for row in [
    HEADER,
    "KC-102,Maria Garcia,END,12/01/2026,03/01/2027,Personal Auto,50.00,15%,7.50",
    "KC-201,Daniel Park,NBS,10/05/2026,10/05/2027,Homeowners,1500.00,15%,225.00",
])


def open_reconciliation(page: Any, invoicing: str, filename: str) -> str:
    page.goto(f"{invoicing}/reconciliations")
    reload_until(page, lambda p: filename in p.inner_text("table"), timeout=60,
                 message=f"the published statement {filename} opened a reconciliation")
    page.locator("table tbody tr", has_text=filename).locator("a").first.click()
    page.wait_for_selector("#rec-status")
    return page.url


def add_other_commission(page: Any, policy_number: str, credit: str) -> None:
    """An other commission whose production credit exceeds the row's commission: an exception."""
    row(page, policy_number).locator("a", has_text="…").click()
    page.wait_for_url("**/others")
    fill_other_commission(page, credit)


def fill_other_commission(page: Any, credit: str) -> None:
    """On a row's other-commissions page: Pat Producer at 10 % with this production credit."""
    page.fill("input[name=employee]", "Pat Producer")
    page.fill("input[name=production_role]", "Producer")
    page.fill("input[name=production_credit]", credit)
    page.select_option("select[name=rate_type]", "percent")
    page.fill("input[name=rate]", "10%")
    page.click("form button:text('OK')")
    page.wait_for_load_state()
    assert "Pat Producer" in page.inner_text("table")
    page.click("text=back to statement entry")
    page.wait_for_url("**/entries")


def figures(page: Any) -> str:
    return " ".join(page.inner_text("#rec-figures").split())


def test_journey_2b_exception_choices_and_create_post_pay(platform: RunningPlatform, browser: Any,
                                                          screens: Screens) -> None:
    """The popup's other choices (Cancel, Abort, Create/Pay Invoices) and the step-by-step path:
    Create Invoices, Post Invoices, Pay, Post reconciliation; then the reports and intake's billed premium."""
    invoicing, intake = platform.urls["invoicing"], platform.urls["intake"]
    with platform.api("intake", "clerk") as api:  # two more statements of the carrier, every line matched
        for name, body in (("keystone-2026-11.csv", STATEMENT_NOV), ("keystone-2026-12.csv", STATEMENT_DEC)):
            r = api.post("/api/statements", data={"carrier": CARRIER},
                         files={"file": (name, body.encode(), "text/csv")})
            assert r.status_code == 202, r.text
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        login(page, invoicing, "clerk", "/reconciliations")
        page.goto(f"{intake}/")  # KC-201's billed premium, from journey 2's posting
        reload_until(page, lambda p: "1346.67" in p.locator("table tr", has_text="KC-201").inner_text(),
                     timeout=60, message="intake shows KC-201's billed premium from journey 2")

        # November: an exception, then Cancel (nothing changes), then Abort (no invoice is ever created)
        nov = open_reconciliation(page, invoicing, "keystone-2026-11.csv")
        page.goto(f"{nov}/entries")
        add_other_commission(page, "KC-101", "100.00")
        page.click("button:text('Select all found')")
        page.wait_for_load_state()
        page.goto(nov)
        page.click("button:text('Create / Pay All')")
        page.wait_for_selector("#exceptions-popup")
        popup = page.inner_text("#exceptions-popup")
        assert "1 selected items cannot be created" in popup and "KC-101" in popup and "KC-100" not in popup, popup
        page.click("#exceptions-popup button:text-is('Cancel')")
        page.wait_for_selector("#message")
        assert page.inner_text("#message") == "Create/Pay All cancelled."
        assert page.inner_text("#rec-status") == "open"
        assert "2 selected · 0 unposted, 0 posted, 0 paid" in figures(page), figures(page)
        page.click("button:text('Create / Pay All')")
        page.wait_for_selector("#exceptions-popup")
        page.click("#exceptions-popup button:text-is('Abort')")
        page.wait_for_selector("#message")
        assert page.inner_text("#message") == "Reconciliation aborted; no invoices were created."
        assert page.inner_text("#rec-status") == "aborted"
        assert "0 unposted, 0 posted, 0 paid" in figures(page), figures(page)
        assert page.locator("button:text('Create Invoices')").count() == 0, "an aborted reconciliation is read-only"
        assert page.locator("input[name=name]").is_disabled() and page.locator("textarea[name=internal_note]").is_disabled()
        screens(page, "journey2b-reconciliation-aborted")

        # December: an exception on KC-201; Create/Pay Invoices pays the other row and leaves it
        dec = open_reconciliation(page, invoicing, "keystone-2026-12.csv")
        page.goto(f"{dec}/entries")
        add_other_commission(page, "KC-201", "500.00")
        page.click("button:text('Select all found')")
        page.wait_for_load_state()
        page.goto(dec)
        page.click("button:text('Create / Pay All')")
        page.wait_for_selector("#exceptions-popup")
        assert "KC-201" in page.inner_text("#exceptions-popup")
        page.click("#exceptions-popup button:text-is('Create/Pay Invoices')")
        page.wait_for_url("**/transactions*")
        assert page.inner_text("#message") == "1 invoice created, posted and paid (7.50 received)."
        paid = page.locator("#pay-form tbody tr", has_text="KC-102").inner_text()
        assert "7.50" in paid and "KC-201" not in page.inner_text("#pay-form table"), paid
        assert "0 unposted, 0 posted, 1 paid · 1 exceptions" in figures(page), figures(page)
        # statement entry: the paid row locked with its item, the exception named on its row; still one screen wide
        page.goto(f"{dec}/entries")
        assert "exception:" in row(page, "KC-201").locator("td.status").inner_text()
        assert "paid" in row(page, "KC-102").locator("td.status").inner_text()
        assert cell(page, "KC-102", "premium_paid").is_disabled()
        assert_grid_fits_laptop(page)
        screens(page, "journey2b-statement-entry-exception")
        page.set_viewport_size({"width": 1366, "height": 900})

        # the exception resolved (the other commission removed), then the step-by-step path
        page.goto(f"{dec}/entries")
        row(page, "KC-201").locator("a", has_text="…").click()
        page.wait_for_url("**/others")
        page.click("button:text('Remove')")
        page.wait_for_load_state()
        assert "Pat Producer" not in page.inner_text("body")
        page.goto(dec)
        page.click("button:text('Create Invoices')")
        page.wait_for_url("**/invoices*")
        assert page.inner_text("#message").startswith("1 invoice created; 0 exceptions"), page.inner_text("#message")
        unposted = page.locator("#post-form tbody tr", has_text="KC-201").inner_text()
        assert "1500.00 / 15% / 225.00" in unposted, unposted
        screens(page, "journey2b-unposted-invoices")
        page.click("#post-form button:text('Post Invoices')")
        page.wait_for_url("**/transactions*")
        assert page.inner_text("#message") == "1 invoice posted."
        kc201 = page.locator("#pay-form tbody tr", has_text="KC-201")
        assert "225.00" in kc201.inner_text()
        kc201.locator("input[type=checkbox]").check()
        assert kc201.locator("input[name^=received-]").input_value() == "225.00", "Received = Balance when selected"
        screens(page, "journey2b-direct-bill-transactions")
        page.click("#pay-form button:text('Pay All Selected')")
        page.wait_for_url("**/transactions*")
        assert page.inner_text("#message") == "Paid 1 invoice: 225.00 received."
        assert "0 unposted, 0 posted, 2 paid · 0 exceptions" in figures(page), figures(page)
        page.goto(dec)
        page.click("button:text('Post reconciliation')")
        page.wait_for_selector("#message")
        assert page.inner_text("#message") == "Reconciliation posted."
        assert page.inner_text("#rec-status") == "closed"
        assert "Received 232.50 · Difference 0.00" in figures(page), figures(page)

        # the three reports, with their figures
        page.click("a:text-is('Summary')")
        page.wait_for_url("**/reports/summary")
        summary = page.inner_text("body")
        assert "endorsement\tpaid\t1\t50.00\t7.50" in summary, summary
        assert "term policy\tpaid\t1\t1500.00\t225.00" in summary, summary
        totals = page.inner_text("#totals").split("\t")
        assert totals[:5] == ["Total", "", "2", "1550.00", "232.50"], totals
        assert "Paid invoices\t2" in summary and "Open exceptions\t0" in summary, summary
        page.goto(f"{dec}/reports/exceptions")
        assert "Nothing to report." in page.inner_text("body"), "the resolved exception is not reported"
        page.goto(f"{dec}/reports/remittance")
        remittance = {r.split("\t")[4]: r.split("\t") for r in page.locator("table >> nth=-1").locator(
            "tbody tr").all_inner_texts()}
        assert set(remittance) == {"KC-102", "KC-201"}, remittance
        assert remittance["KC-201"][6:12] == ["1500.00", "15%", "225.00", "225.00", "225.00", "0.00"], remittance
        assert remittance["KC-102"][8:12] == ["7.50", "7.50", "7.50", "0.00"], remittance
        totals = page.inner_text("#totals").split("\t")
        assert totals[0] == "Total" and totals[6] == "1550.00" and totals[8:12] == ["232.50", "232.50", "232.50", "0.00"], \
            totals
        assert page.locator("#totals th").nth(8).evaluate("e => getComputedStyle(e).textAlign") == "right"
        screens(page, "journey2b-report-remittance")

        # intake: KC-201's billed premium is the new term policy's premium
        page.goto(f"{intake}/")
        reload_until(page, lambda p: "1500.00" in p.locator("table tr", has_text="KC-201").inner_text(),
                     timeout=60, message="intake shows KC-201's new billed premium")
    finally:
        ctx.close()


def test_journey_3_individual_search_saved_search_sales_records(platform: RunningPlatform, browser: Any,
                                                                screens: Screens) -> None:
    intake = platform.urls["intake"]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        login(page, intake, "sales", "/individuals")
        # search individuals by policy filters: the carrier's Personal Auto policies (KC-100, KC-102, KC-200)
        page.fill("input[name=policy_carrier]", CARRIER)
        page.fill("input[name=policy_line_of_business]", "Personal Auto")
        page.click("button:text('Search')")
        page.wait_for_url("**/individuals?*run=1*")
        assert "3 individuals found" in page.inner_text("h2:has-text('individuals found')")
        names = page.inner_text("table >> nth=0")
        assert "Roe, Jane" in names and "Garcia, Maria" in names and "Rossi, Sofia" in names
        assert "Park, Daniel" not in names  # his policy is Homeowners (overridden in journey 1)

        # save the search; it lists and re-runs
        search_url = page.url
        page.fill("form[action='/individuals/saved-searches'] input[name=search_name]", "Keystone personal auto")
        page.click("form[action='/individuals/saved-searches'] button")
        page.wait_for_url("**saved_search_id=*")
        saved = page.locator("table", has_text="Owner").inner_text()
        assert "Keystone personal auto" in saved and "sales" in saved
        assert "3 individuals found" in page.inner_text("body"), "the saved search re-runs with its criteria"
        card = page.inner_text(".card:has-text('Create Sales Records')").replace("\n", " ")
        assert "3 will be created" in card and "0 skipped" in card, card
        screens(page, "journey3-individual-search")

        # create sales records for every individual found; watch the progress
        page.click("button:text('Create sales records')")
        page.wait_for_url("**/sales-record-jobs/*")
        reload_until(page, lambda p: p.inner_text("#job-status") not in ("queued", "running"),
                     timeout=60, message="sales-record job finished")
        assert page.inner_text("#job-status") != "failed", page.inner_text("body")
        assert (page.inner_text("#job-total"), page.inner_text("#job-created"), page.inner_text("#job-skipped")) \
            == ("3", "3", "0")
        assert "by sales" in page.inner_text("body")
        screens(page, "journey3-sales-record-job")

        # a second run skips them all
        page.goto(search_url)
        card = page.inner_text(".card:has-text('Create Sales Records')").replace("\n", " ")
        assert "0 will be created" in card and "3 skipped" in card, card
        page.click("button:text('Create sales records')")
        page.wait_for_url("**/sales-record-jobs/*")
        reload_until(page, lambda p: p.inner_text("#job-status") not in ("queued", "running"),
                     timeout=60, message="second sales-record job finished")
        assert (page.inner_text("#job-created"), page.inner_text("#job-skipped")) == ("0", "3")
    finally:
        ctx.close()


def test_journey_3b_pii_masked_or_revealed_and_convert_to_individual(platform: RunningPlatform, browser: Any,
                                                                     screens: Screens) -> None:
    """An individual's PII is masked for a user without ``pii:reveal`` and shown to one with it; a sales
    record changed in the sales system is merged back with Convert to Individual."""
    intake = platform.urls["intake"]
    contexts = [browser.new_context(viewport={"width": 1366, "height": 900}) for _ in range(2)]
    sales, admin = (c.new_page() for c in contexts)
    for c in contexts:
        c.set_default_timeout(20_000)
    sales.on("dialog", lambda dialog: dialog.accept())
    try:
        login(sales, intake, "sales", "/individuals")
        sales.fill("input[name=policy_carrier]", CARRIER)
        sales.fill("input[name=policy_line_of_business]", "Personal Auto")
        sales.click("button:text('Search')")
        sales.wait_for_url("**/individuals?*run=1*")
        sales.click("a:text('Roe, Jane')")
        sales.wait_for_url("**/individuals/*")
        jane_url = sales.url
        # the CRM sends Jane's identity data (an API client with the edit permission)
        with platform.api("intake", "admin") as api:
            r = api.patch(f"/api/individuals/{jane_url.rsplit('/', 1)[1]}",
                          json={"ssn": "078-05-1120", "dob": "1980-04-12", "drivers_license": "D1234-56789"})
            assert r.status_code == 200, r.text
        sales.reload()
        shown = {f: sales.inner_text(f"#f-{f}") for f in ("ssn", "dob", "drivers_license")}
        assert shown == {"ssn": "*******1120", "dob": "**********", "drivers_license": "*******6789"}, shown
        assert "078-05-1120" not in sales.content() and "1980-04-12" not in sales.content()
        screens(sales, "journey3b-individual-masked")
        login(admin, intake, "admin", jane_url.removeprefix(intake))
        revealed = {f: admin.inner_text(f"#f-{f}") for f in ("ssn", "dob", "drivers_license")}
        assert revealed == {"ssn": "078-05-1120", "dob": "1980-04-12", "drivers_license": "D1234-56789"}, revealed

        # the sales record, changed in the sales system, merged back into Jane
        sales.locator("a[href^='/sales-records/']").first.click()
        sales.wait_for_url("**/sales-records/*")
        record_id = sales.url.rsplit("/", 1)[1]
        with platform.api("intake", "sales") as api:
            r = api.patch(f"/api/sales-records/{record_id}", json={"nickname": "Janie", "cell_phone": "555-0100",
                                                                   "last_name": "Roe-Smith"})
            assert r.status_code == 200, r.text
        sales.reload()
        assert "Not converted yet." in sales.inner_text("#conversions")
        sales.click("button:text('Convert to Individual')")
        sales.wait_for_url("**converted=1*")
        assert "Converted" in sales.inner_text("[role=status]")
        conversion = sales.locator("#conversions tbody tr").first.inner_text().split("\t")
        assert conversion[1] == "sales", conversion
        assert conversion[2] == "Cell Phone, Nickname", conversion  # empty on Jane: filled
        assert conversion[4] == "Last Name", "the individual keeps its own last name: a conflict, reported"
        screens(sales, "journey3b-sales-record-converted")
        sales.goto(jane_url)
        assert sales.inner_text("#f-nickname") == "Janie" and sales.inner_text("#f-cell_phone") == "555-0100"
        assert sales.inner_text("#f-last_name") == "Roe"
        audit = sales.locator("table").last.inner_text()  # the audit trail
        assert "convert to individual" in audit and "sales" in audit, audit
        assert sales.inner_text("#f-ssn") == "*******1120", "still masked after the merge"
    finally:
        for c in contexts:
            c.close()


def test_journey_4_onboard_appoint_nipr_terminate(platform: RunningPlatform, browser: Any, screens: Screens) -> None:
    from agency_platform.demo import PRODUCERS_CSV

    appointments = platform.urls["appointments"]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    try:
        login(page, appointments, "licensing", "/onboarding")
        # onboard producers from a CSV: row errors shown, blank rows ignored, then Process Rows
        page.set_input_files("input[name=file]", {"name": "agents.csv", "mimeType": "text/csv",
                                                  "buffer": PRODUCERS_CSV.encode()})
        page.click("button:text('Parse 1 File')")
        page.wait_for_url("**/onboarding/*")
        cards = [c.replace("\n", ": ") for c in page.locator(".cards .card").all_inner_texts()]
        assert cards == ["Rows: 6", "Valid: 4", "With errors: 2", "Blank rows (ignored): 1"], cards
        errors = page.inner_text("table")
        assert "9999999" in errors and "not-an-email" in errors
        screens(page, "journey4-onboarding-parsed")
        page.click("button:text('Process Rows')")
        page.wait_for_selector("p.ok")
        assert "producers_created = 4" in page.inner_text("p.ok")

        # the producers are synced with NIPR through the gateway (simulator); the SSN is masked
        page.goto(f"{appointments}/producers")
        reload_until(page, lambda p: "synced" in p.locator("tr", has_text="1234567").inner_text(), timeout=60,
                     message="producer 1234567 synced with NIPR")
        whitfield = page.locator("tr", has_text="1234567").inner_text()
        assert "Dana Whitfield" in whitfield and "123-45-6789" not in whitfield and "6789" in whitfield, whitfield
        screens(page, "journey4-producers")

        # bulk-appoint across states: eligible and not-eligible lines, one batch per CoCode
        page.goto(f"{appointments}/appoint")
        page.fill("input[name=npn]", "1234567")
        page.fill("input[name=states]", "CA;TX;FL")
        page.fill("input[name=loa_category]", "Life & Health")
        page.fill("input[name=cocodes]", "60054")
        page.click("button:text('Create transactions')")
        page.wait_for_selector("h2:has-text('Result')")
        result = page.inner_text("body")
        assert "In Good Standing" in result, result[:3000]
        screens(page, "journey4-bulk-appoint")
        page.click("a:has-text('Batch for CoCode 60054')")
        page.wait_for_url("**/batches/*")
        billable = int(page.locator(".card", has_text="Billable").first.locator(".stat").inner_text())
        assert billable >= 1
        page.click("button:text('Submit to NIPR')")
        page.wait_for_load_state()
        # the batch goes to the NIPR simulator and the answers come back
        reload_until(page, lambda p: "Appointed" in p.inner_text("table"), timeout=90,
                     message="NIPR answers came back to the batch")
        screens(page, "journey4-batch-answered")

        # terminate by CSV one appointed line
        page.goto(f"{appointments}/report?status=Appointed")
        appointed = page.locator("table tbody tr", has_text="1234567").first.inner_text().split("\t")
        state_code = next(c for c in appointed if len(c) == 2 and c.isupper())
        line = next(c for c in appointed if c not in ("1234567", state_code, "60054") and c.strip()
                    and not c.strip().isdigit() and "Whitfield" not in c)
        page.goto(f"{appointments}/terminations")
        page.set_input_files("input[name=file]", {"name": "terminate.csv", "mimeType": "text/csv", "buffer": (
            "Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code\r\n"
            f"1234567,{state_code},{line},60054,\r\n").encode()})
        page.click("form[action='/terminations'] button")
        page.wait_for_url("**/terminations/*")
        assert page.locator(".cards .card .stat").nth(1).inner_text() == "1", page.inner_text("body")[:2000]
        page.check("input[name=immediate]")
        page.click("button:text('Submit 1 Transactions')")
        page.wait_for_selector("p.ok")
        screens(page, "journey4-termination-submitted")
        page.goto(f"{appointments}/report?status=Terminated")
        reload_until(page, lambda p: "1234567" in p.inner_text("table"), timeout=90,
                     message="the termination came back from NIPR")
    finally:
        ctx.close()


def test_journey_4b_jit_release_portal_invites_review_batches(platform: RunningPlatform, browser: Any,
                                                              screens: Screens) -> None:
    """A JIT appointment held then released; portal invites up to the seat limit; terminations in batches
    for review, one of them submitted."""
    appointments = platform.urls["appointments"]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    try:
        login(page, appointments, "licensing", "/producers")
        # Riley (6677889) holds a resident Illinois license; Illinois appointments of 60054 are just-in-time
        reload_until(page, lambda p: "synced" in p.locator("tr", has_text="6677889").inner_text(), timeout=60,
                     message="producer 6677889 synced with NIPR")
        page.goto(f"{appointments}/appoint")
        page.fill("input[name=npn]", "6677889")
        page.fill("input[name=states]", "IL")
        page.fill("input[name=loa_category]", "Life & Health")
        page.fill("input[name=cocodes]", "60054")
        page.click("button:text('Create transactions')")
        page.wait_for_selector("h2:has-text('Result')")
        statuses = {c.split("\t")[3] for c in page.locator("table tbody tr").all_inner_texts()}
        assert statuses == {"JIT Held"}, statuses
        page.click("a:has-text('Batch for CoCode 60054')")
        page.wait_for_url("**/batches/*")
        held = int(page.locator(".card").filter(has=page.locator(".muted", has_text=re.compile("^JIT Held$")))
                   .locator(".stat").inner_text())
        assert held >= 1
        # submitted without the JIT ones: nothing is sent, and the page says why
        page.click("button:text('Submit to NIPR')")
        page.wait_for_selector("p.error")
        assert "JIT held" in page.inner_text("p.error"), page.inner_text("p.error")
        assert page.locator("table tbody tr", has_text="JIT Held").count() == held
        screens(page, "journey4b-jit-held")
        # released: the held transactions go to NIPR and come back appointed
        page.check("input[name=include_jit]")
        page.click("button:text('Submit to NIPR')")
        page.wait_for_load_state()
        reload_until(page, lambda p: p.locator("table tbody tr", has_text="Appointed").count() == held, timeout=90,
                     message="the released JIT transactions came back appointed")
        assert "JIT Held" not in page.inner_text("table") and "by licensing" in page.inner_text("body")

        # portal invites: the Recruiting Portal has 2 seats, three producers are invited
        page.goto(f"{appointments}/producers")
        for npn in ("1234567", "4455667", "6677889"):
            page.locator("tr", has_text=npn).locator("input[name=producer_id]").check()
        page.select_option("select[name=portal_id]", label="Recruiting Portal (2 seats)")
        page.click("button:text('Create/Update Portal User')")
        page.wait_for_load_state()
        invite = page.locator(".card", has_text="seats used").inner_text()
        assert "Portal Recruiting Portal: 2 of 2 seats used." in invite, invite
        assert invite.count("invited (created)") == 2, invite
        assert "You no longer have portal seats. Email support to order more seats." in invite, invite
        screens(page, "journey4b-portal-invites")
        # the invitations are written by the mail adapter (a file per invitation in the embedded run)
        mail = platform.root / "data" / "outbox-mail"
        sent = wait_until(lambda: len(list(mail.glob("*.eml"))) == 2 and sorted(mail.glob("*.eml")), timeout=60,
                          message="two invitation emails written")
        recipients = sorted(line for f in sent for line in f.read_text().splitlines() if line.startswith("To: "))
        assert len(recipients) == 2 and all("@example.com" in r for r in recipients), recipients
        assert all("Subject: You are invited to the Recruiting Portal" in f.read_text() for f in sent)

        # terminations in batches for review: every appointed 60054 line, one per batch; one batch submitted
        page.goto(f"{appointments}/report?status=Appointed&cocode=60054")
        lines = [r.split("\t")[1:5] for r in page.locator("table tbody tr").all_inner_texts()]
        lines = [x for x in lines if len(x) == 4][:3]
        assert len(lines) >= 2, lines
        page.goto(f"{appointments}/terminations")
        page.set_input_files("input[name=file]", {"name": "terminate-review.csv", "mimeType": "text/csv", "buffer": (
            "Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code\r\n"
            + "".join(f"{npn},{st},{loa},{cocode},\r\n" for npn, st, loa, cocode in lines)).encode()})
        page.click("form[action='/terminations'] button")
        page.wait_for_url("**/terminations/*")
        page.fill("input[name=batch_size]", "1")
        page.click(f"button:text('Submit {len(lines)} Transactions')")
        page.wait_for_selector("p.ok")
        links = page.locator("p.ok a")
        assert links.count() == len(lines), page.inner_text("p.ok")
        assert "immediate = False" in page.inner_text("p.ok")
        screens(page, "journey4b-termination-review-batches")
        first = links.first.get_attribute("href")
        page.goto(f"{appointments}/")
        drafts = page.locator("#batches tbody tr", has_text="termination-import").all_inner_texts()
        assert sum("draft" in d for d in drafts) >= len(lines), drafts
        page.goto(f"{appointments}{first}")
        assert "draft" in page.inner_text("h1") and "Ready to Submit" in page.inner_text("table")
        page.click("button:text('Submit to NIPR')")
        page.wait_for_load_state()
        reload_until(page, lambda p: "Terminated" in p.inner_text("table"), timeout=90,
                     message="the reviewed termination batch came back from NIPR")
        assert "submitted by licensing" in page.inner_text("body")
        page.goto(f"{appointments}/")
        drafts_after = page.locator("#batches tbody tr", has_text="termination-import").all_inner_texts()
        assert sum("draft" in d for d in drafts_after) == sum("draft" in d for d in drafts) - 1, drafts_after
    finally:
        ctx.close()


async def publish_broken_job(bootstrap: str) -> None:
    """An upstream job event the contract refuses (an unknown job type): it is dead-lettered."""
    from agency_common.contracts.upstream import PolicyJobUpserted
    from aiokafka import AIOKafkaProducer

    env = make_envelope(PolicyJobUpserted(job_id="BROKEN-1", version=1, job_type="submission",
                                          create_time=datetime.now(UTC)),
                        producer="e2e-upstream", actor="policy-admin", correlation_id="e2e-broken")
    body = json.loads(env.to_bytes())
    body["payload"]["job_type"] = "quote"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.UPSTREAM_POLICY_JOBS, json.dumps(body).encode(), key=b"BROKEN-1",
                                     headers=[(k, v.encode()) for k, v in env.headers().items()])
    finally:
        await producer.stop()


def test_journey_5_reporting_shows_it_all(platform: RunningPlatform, browser: Any, screens: Screens) -> None:
    reporting = platform.urls["reporting"]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    try:
        login(page, reporting, "manager", "/operations/statements")
        # the statements of journey 1, per carrier and day, with their valid / invalid / blank rows
        def carrier_row(p: Any) -> list[str]:
            rows = p.locator("#section-per-carrier-day tbody tr", has_text=CARRIER)
            return rows.inner_text().split("\t") if rows.count() else []
        # journey 1's two statements (11 rows: 7 valid, 2 invalid, 2 blank) and journey 2b's two (4 valid rows)
        reload_until(page, lambda p: carrier_row(p)[2:3] == ["4"], timeout=60, message="reporting counted the statements")
        assert carrier_row(page)[2:] == ["4", "15", "11", "2", "2"], carrier_row(page)
        screens(page, "journey5-operations-statements")
        with page.expect_download() as download:  # each view exports CSV
            page.click("#section-per-carrier-day a:text('Export CSV')")
        exported = download.value.path().read_text(encoding="utf-8-sig")
        assert CARRIER in exported and "Invalid rows" in exported, exported
        # the Create-Policies session of journey 1, by clerk, 2 policies
        page.goto(f"{reporting}/operations/policies")
        reload_until(page, lambda p: "clerk" in p.inner_text("#section-per-session table"), timeout=60,
                     message="reporting saw the session")
        session_row = page.locator("#section-per-session tbody tr", has_text="clerk").inner_text().split("\t")
        assert session_row[3] == CARRIER and session_row[5] == "2", session_row
        # the reconciliation of journey 2
        page.goto(f"{reporting}/operations/reconciliations")
        def by_status(p: Any) -> dict[str, list[str]]:
            return {r.split("\t")[0]: r.split("\t")[1:] for r in
                    p.locator("#section-by-status tbody tr").all_inner_texts()}
        # journey 2's reconciliation (449.70; 289.00 received) and December's (232.50, all received) posted;
        # November's aborted
        expected = {"closed": ["2", "682.20", "521.50", "160.70", "1"], "aborted": ["1", "45.00", "0.00", "45.00", "1"]}
        reload_until(page, lambda p: by_status(p) == expected, timeout=60,
                     message="reporting saw the posted and the aborted reconciliations")
        invoices = {r.split("\t")[0]: r.split("\t")[1:] for r in
                    page.locator("#section-invoices tbody tr").all_inner_texts()}
        assert invoices == {"endorsement": ["3", "160.00", "22.50"], "term policy": ["3", "3566.67", "499.00"]}, \
            invoices
        payments = page.locator("#section-payments tbody tr").first.inner_text().split("\t")
        assert payments[1:] == ["3", "6", "521.50"], payments
        screens(page, "journey5-operations-reconciliations")
        # the appointment transactions of journey 4, by status and eligibility reason
        page.goto(f"{reporting}/operations/transactions")
        reload_until(page, lambda p: "Appointed" in p.inner_text("#section-by-status table")
                     and "In Good Standing" in p.inner_text("#section-by-eligibility-reason table"), timeout=60,
                     message="reporting saw the appointment transactions and NIPR's answers")
        screens(page, "journey5-operations-transactions")
        # the upstream policy system's feed arrives (jobs and activities), with one broken job event
        upstream = upstream_events()
        run_coroutine(publish_upstream(platform.bootstrap, upstream))
        run_coroutine(publish_broken_job(platform.bootstrap))
        page.goto(f"{reporting}/operations/events")

        def last_cell(p: Any, section: str, text: str) -> str:
            rows = p.locator(f"#section-{section} tbody tr", has_text=text)
            return rows.first.inner_text().split("\t")[-1].strip() if rows.count() else ""
        expected = {"upstream.activity.upserted": sum(type(e).__name__ == "ActivityUpserted" for e in upstream),
                    "upstream.policy-job.upserted": sum(type(e).__name__ == "PolicyJobUpserted" for e in upstream)}
        # every good event counted once, the broken one dead-lettered (and counted there, on its topic)
        reload_until(page, lambda p: last_cell(p, "dead-letters", topics.UPSTREAM_POLICY_JOBS) == "1"
                     and all(last_cell(p, "events", t) == str(n) for t, n in expected.items()), timeout=60,
                     message="reporting counted the upstream feed and its dead letter")
        screens(page, "journey5-operations-events")

        # recalculate the team screens
        page.goto(f"{reporting}/team-screens")
        before = page.inner_text(".card")
        page.click("button:text('Calculate now')")
        page.wait_for_selector("#calculated-on")
        assert "by manager" in page.inner_text(".card") and page.inner_text(".card") != before
        screens(page, "journey5-team-screens")

        # drill down: a person's count of submissions links to exactly those items
        link, assignee, count = None, "", 0
        for r in page.locator("#ts-submissions tbody tr").all():
            assignee = r.locator("td").first.inner_text().strip()
            counts = [a for a in r.locator("a").all() if int(a.inner_text()) > 0]
            if counts and assignee != "(unassigned)":
                link, count = counts[0], int(counts[0].inner_text())
                break
        assert link is not None, page.inner_text("#ts-submissions")
        link.click()
        page.wait_for_url("**/team-screens/items?*")
        assert f"user {assignee}" in page.inner_text("h1") and "Submissions" in page.inner_text("h1")
        assert f"{count} item(s)" in page.inner_text("main"), page.inner_text("main")[:800]
        items = page.locator("#items tbody tr").all_inner_texts()
        assert len(items) == count and all(assignee in i for i in items), items
        assert all("submission" in i for i in items), items
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366, "the items fit the screen's width"
        screens(page, "journey5-team-screen-items")
    finally:
        ctx.close()
