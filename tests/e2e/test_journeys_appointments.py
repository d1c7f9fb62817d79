"""Appointments journeys in headless Chromium (appointments issue, item 9): what the dashboard offers
to create transactions (the bulk-appoint form and file, the termination file) refuses garbage with
reasons in words, shows the Not Eligible reasons, and sends nothing unchecked to NIPR."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RunningPlatform, Screens, login, reload_until

AGENTS = ("Agency NPN,First Name,Last Name,Agent NPN,Agent Email\r\n"
          "8800002,Dana,Whitfield,1234567,dana.whitfield@example.com\r\n")
SUMMIT = "Summit Mutual Life Insurance Company"


def appoint(page: Any, npn: str, states: str, loa: str, cocodes: str = "60054", submit: bool = True) -> str:
    """Fill and send the bulk-appoint form; the page's text."""
    page.fill("input[name=npn]", npn)
    page.fill("input[name=states]", states)
    page.fill("input[name=loa_category]", loa)
    page.fill("input[name=cocodes]", cocodes)
    if submit:
        page.check("input[name=submit]")
    page.click("button:text('Create transactions')")
    page.wait_for_load_state()
    return page.inner_text("main")


def test_journey_appointments_garbage_refused_and_not_eligible_reasons_shown(platform: RunningPlatform, browser: Any,
                                                                            screens: Screens) -> None:
    appointments = platform.urls["appointments"]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    try:
        login(page, appointments, "licensing", "/onboarding")
        page.set_input_files("input[name=file]", {"name": "agents.csv", "mimeType": "text/csv",
                                                  "buffer": AGENTS.encode()})
        page.click("button:text('Parse 1 File')")
        page.wait_for_url("**/onboarding/*")
        page.click("button:text('Process Rows')")
        page.wait_for_selector("p.ok")
        page.goto(f"{appointments}/producers")
        reload_until(page, lambda p: "synced" in p.locator("tr", has_text="1234567").inner_text(), timeout=60,
                     message="producer 1234567 synced with NIPR")

        # the bulk-appoint form: an unknown NPN, state ZZ, an unknown line are refused in words
        page.goto(f"{appointments}/appoint")
        text = appoint(page, "9999999", "TX", "Life & Health")
        assert "Rejected: NPN Not Found" in text and "Batch for CoCode" not in text, text[:2000]
        text = appoint(page, "1234567", "ZZ", "Life & Health")
        assert "'ZZ' is not a US state code" in page.inner_text("p.error"), text[:2000]
        assert "Result:" not in text
        text = appoint(page, "1234567", "TX", "Anything at all")
        assert "Rejected: Unsupported line of authority or LOA category: Anything at all" in text, text[:2000]
        assert "Batch for CoCode" not in text
        screens(page, "appointments-garbage-refused")

        # the bulk-appoint file: the same refusals, on their lines
        page.set_input_files("input[name=file]", {"name": "appoint.csv", "mimeType": "text/csv", "buffer": (
            b"NPN,States,LOA Category,CoCodes,Submit\r\n"
            b"9999999,ZZ,Anything at all,60054,true\r\n"
            b"1234567,TX,Anything at all,60054,true\r\n")})
        page.click("form[enctype='multipart/form-data'] button")
        page.wait_for_selector("h2:has-text('Result')")
        text = page.inner_text("main")
        assert "line 2: States: 'ZZ' is not a US state code" in text, text[:2000]
        assert "Rejected: Unsupported line of authority or LOA category: Anything at all" in text
        assert "Result: 0 transactions" in text

        # a termination file of garbage: every row an error in words, nothing to submit
        page.goto(f"{appointments}/terminations")
        page.set_input_files("input[name=file]", {"name": "terminate.csv", "mimeType": "text/csv", "buffer": (
            b"Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code\r\n"
            b"9999999,ZZ,Anything at all,60054,\r\n"
            b"1234567,TX,Anything at all,60054,\r\n")})
        page.click("form[action='/terminations'] button")
        page.wait_for_url("**/terminations/*")
        errors = page.inner_text("table")
        assert "'ZZ' is not a US state code" in errors, errors
        assert "no Appointed appointment for NPN 1234567, State: TX, Anything at all, CoCode 60054" in errors
        assert page.locator("button:has-text('Transactions')").count() == 0

        # Not Eligible reasons on screen: FL (no license there), WY (no gateway line: the company does not
        # appoint there); recorded, not billed, never sent although submit was ticked
        page.goto(f"{appointments}/appoint")
        text = appoint(page, "1234567", "FL;WY", "Life & Health")
        assert "Required License Not Found" in text, text[:3000]
        assert f"{SUMMIT} does not appoint in the requested State: WY" in text
        rows = page.locator("table tbody tr").all_inner_texts()
        cells = [r.split("\t") for r in rows]
        assert cells and all((c[3], c[5]) == ("Not Eligible", "no") for c in cells), rows  # not billed
        screens(page, "appointments-not-eligible-reasons")
        page.click("a:has-text('Batch for CoCode 60054')")
        page.wait_for_url("**/batches/*")
        assert "closed" in page.inner_text("h1") and "Not Eligible — nothing to submit" in page.inner_text("main")
        assert f"{SUMMIT} does not appoint in the requested State: WY" in page.inner_text("table")
        assert page.locator("button:text('Submit to NIPR')").count() == 0
        screens(page, "appointments-not-eligible-batch")

        # the same request again creates nothing and says what it matches
        page.goto(f"{appointments}/appoint")
        text = appoint(page, "1234567", "FL;WY", "Life & Health")
        assert "nothing was created" in text and "Result: 0 transactions" in text, text[:2000]

        # an eligible request goes to NIPR and comes back; it is the only thing NIPR ever received
        text = appoint(page, "1234567", "TX", "Life & Health")
        assert "In Good Standing" in text and "Submitted" in text, text[:2000]
        page.click("a:has-text('Batch for CoCode 60054')")
        page.wait_for_url("**/batches/*")
        reload_until(page, lambda p: "Appointed" in p.inner_text("table"), timeout=90,
                     message="NIPR answered the eligible transactions")
        with platform.api("gateway", "licensing") as gw:
            submissions = gw.get("/api/submissions").json()["items"]
        assert submissions and {(s["npn"], s["state"]) for s in submissions} == {("1234567", "TX")}, submissions
        with platform.api("appointments", "licensing") as api:
            gone = api.post("/api/transaction-batches", json={"cocode": "60054", "transactions": [
                {"npn": "9999999", "state": "ZZ", "line_of_authority": "Anything at all"}]})
        assert gone.status_code == 405  # no route creates a transaction without the checks
    finally:
        ctx.close()
