"""Issue 13, item 2 in the browser: a carrier is registered on its page, then picked from lists (never typed)
on every form that names one; a statement of a carrier is found again under another spelling; invoicing
offers the carrier's own subordinates and addresses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import RunningPlatform, Screens, login, reload_until

STATEMENT = "Policy Number,Insured Name,Premium,Commission\r\nNL-1,Ann Able,1000.00,100.00\r\n"


@pytest.fixture(scope="module")
def page(context: Any) -> Any:
    p = context.new_page()
    yield p
    p.close()


def test_journey_carriers_registered_then_picked_everywhere(platform: RunningPlatform, page: Any,
                                                            screens: Screens) -> None:
    intake, invoicing = platform.urls["intake"], platform.urls["invoicing"]
    login(page, intake, "clerk", "/carriers")
    assert "No carriers." in page.inner_text("table")

    # register: a wrong NAIC code is refused in words and the form keeps what was typed
    page.fill("input[name=name]", "Northern Lights Mutual")
    page.fill("input[name=naic_code]", "12-34")
    page.evaluate("document.querySelector('input[name=naic_code]').removeAttribute('pattern')")
    page.fill("textarea[name=aliases]", "NLM\nNorthern Lights Mutual Ins Co")
    page.fill("textarea[name=subordinates]", "Northern Lights Casualty")
    page.fill("textarea[name=addresses]", "1 Aurora Way\nFairbanks, AK 99701\n\nPO Box 77\nFairbanks, AK 99707")
    page.click("form[action='/carriers'] button[type=submit]")
    assert "5 digits" in page.inner_text("[role=alert]")
    assert page.input_value("input[name=name]") == "Northern Lights Mutual"
    page.fill("input[name=naic_code]", "04321")
    page.click("form[action='/carriers'] button[type=submit]")
    page.wait_for_url("**/carriers/*")
    assert "Carrier registered." in page.inner_text("[role=status]")
    screens(page, "carriers-registered")

    # the same name under another spelling is the carrier already registered
    page.goto(f"{intake}/carriers")
    page.fill("input[name=name]", "  northern LIGHTS mutual ")
    page.click("form[action='/carriers'] button[type=submit]")
    assert "is the registered carrier 'Northern Lights Mutual'" in page.inner_text("[role=alert]")
    page.fill("input[name=q]", "nlm")
    page.click("form[method=get] button")
    assert "1 carrier" in page.inner_text("main") and "Northern Lights Mutual" in page.inner_text("table")

    # the statement form offers the registry (a list, not a text box)
    page.goto(f"{intake}/statements")
    options = page.locator("select[name=carrier] option").all_inner_texts()
    assert "Northern Lights Mutual" in options
    page.select_option("select[name=carrier]", "Northern Lights Mutual")
    page.set_input_files("input[name=file]", {"name": "nl.csv", "mimeType": "text/csv", "buffer": STATEMENT.encode()})
    page.click("form[action='/statements'] button[type=submit]")
    page.wait_for_url("**/statements/*")
    with platform.api("intake", "clerk") as api:  # a typed spelling (an API client) finds the same carrier
        again = api.post("/api/statements", data={"carrier": "NORTHERN lights  mutual"},
                         files={"file": ("nl.csv", STATEMENT.encode(), "text/csv")})
        assert again.status_code == 409, again.text  # the same file of the same carrier: a duplicate
        typo = api.post("/api/statements", data={"carrier": "Northern Light Mutual"},
                        files={"file": ("nl.csv", STATEMENT.encode(), "text/csv")})
        assert typo.status_code == 422 and "Did you mean 'Northern Lights Mutual'" in typo.json()["detail"]
    for path, select in (("/", "carrier"), ("/policies/update", "f_carrier"), ("/carrier-profiles", "carrier")):
        page.goto(intake + path)
        assert "Northern Lights Mutual" in page.locator(f"select[name={select}] option").all_inner_texts(), path

    # invoicing: the carrier from the registry, then its own subordinates and addresses
    login(page, invoicing, "clerk", "/reconciliations")
    reload_until(page, lambda p: "Northern Lights Mutual (NAIC 04321)" in p.locator("#rec-carrier option").all_text_contents(),
                 timeout=60, message="the registry reached invoicing")
    page.evaluate("document.querySelector('#rec-carrier').closest('details').open = true")
    page.select_option("#rec-carrier", "Northern Lights Mutual")
    assert page.locator("#rec-subordinate option").all_inner_texts() == ["none", "Northern Lights Casualty"]
    assert page.locator("#rec-address option").all_inner_texts() == [
        "none", "1 Aurora Way, Fairbanks, AK 99701", "PO Box 77, Fairbanks, AK 99707"]
    page.select_option("#rec-subordinate", "Northern Lights Casualty")
    page.select_option("#rec-address", index=2)
    screens(page, "carriers-reconciliation-form")
    page.click("form[action='/reconciliations/new'] button[type=submit]")
    page.wait_for_url("**/reconciliations/*")
    assert "Northern Lights Mutual / Northern Lights Casualty" in page.inner_text("body")
