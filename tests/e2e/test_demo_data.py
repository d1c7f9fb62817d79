"""The demo dataset that ``make run`` loads on its first start (``agency_platform.demo``), loaded through
the services' public APIs into a platform started like ``make run``; then every dashboard shows it,
as a person sees it in the browser (these are the README's screenshots)."""

from __future__ import annotations

import json
import time
from typing import Any

from agency_platform.demo import DEMO_CARRIER, MARKER, load_on_first_start

from tests.e2e.conftest import PASSWORDS, RunningPlatform, Screens, login, reload_until
from tests.support.services import wait_until


def test_demo_dataset_loads_once_and_fills_every_dashboard(platform: RunningPlatform, context: Any,
                                                           screens: Screens, tmp_path: Any) -> None:
    urls = {n: u for n, u in platform.urls.items() if n != "gateway"}
    # AGENCY_DEMO_DATA=0: the platform starts empty
    assert load_on_first_start(tmp_path / "empty", urls, PASSWORDS["admin"], platform.bootstrap, setting="0") is False
    assert not (tmp_path / "empty" / MARKER).exists()

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    started = time.monotonic()
    assert load_on_first_start(data_dir, urls, PASSWORDS["admin"], platform.bootstrap, setting="1") is True
    print(f"demo dataset loaded in {time.monotonic() - started:.1f}s")
    summary = json.loads((data_dir / MARKER).read_text())
    # the second start finds the marker: nothing is loaded twice
    assert load_on_first_start(data_dir, urls, PASSWORDS["admin"], platform.bootstrap, setting="1") is False

    counts = summary["intake"]["statement_counts"]
    assert (counts["invalid"], counts["blank"]) == (2, 1), counts
    assert counts["total"] == counts["valid"] + counts["invalid"] + counts["blank"]
    assert summary["intake"]["session_count"] == 3
    assert summary["appointments"]["producer_import"]["producers_created"] == 4
    assert summary["reporting"]["team_screens"]

    with platform.api("invoicing") as inv:
        recs = wait_until(lambda: inv.get("/api/reconciliations").json().get("items"), timeout=60,
                          message="the demo statement opened a reconciliation in invoicing")
    assert any(DEMO_CARRIER in json.dumps(r) for r in recs), recs

    page = context.new_page()
    intake, invoicing = platform.urls["intake"], platform.urls["invoicing"]
    appointments, reporting = platform.urls["appointments"], platform.urls["reporting"]
    login(page, intake, "admin")

    # intake: the book, the statements (with their bad rows), the sessions, the individuals
    assert page.inner_text("body").count("AM-10") >= 12
    screens(page, "intake-book-of-business")
    page.goto(f"{intake}/statements")
    assert "acme-statement-2026-10.csv" in page.inner_text("table")
    assert "harbor-2026-11.csv" in page.inner_text("table")
    screens(page, "intake-statements")
    page.click("text=acme-statement-2026-10.csv >> xpath=ancestor::tr >> a")
    page.wait_for_selector("#count-total")
    assert page.inner_text("#count-invalid") == "2" and page.inner_text("#count-blank") == "1"
    assert "Download invalid rows (CSV)" in page.inner_text("body")
    screens(page, "intake-statement")
    page.goto(f"{intake}/policy-sessions")
    row = page.locator("table tbody tr").first
    assert "admin" in row.inner_text() and DEMO_CARRIER in row.inner_text() and row.inner_text().strip().endswith("3")
    screens(page, "intake-policy-sessions")
    row.locator("a").click()
    assert "Sofia Rossi" in page.inner_text("table") and "AM-2002" in page.inner_text("table")
    screens(page, "intake-policy-session")
    page.goto(f"{intake}/individuals?run=1&state=TX")
    assert "Texas clients with Personal Auto" in page.inner_text("body")
    assert "Roe, Jane" in page.inner_text("body")
    screens(page, "intake-individuals")

    # invoicing: the policies read model and the reconciliation the statement opened
    page.goto(f"{invoicing}/")
    reload_until(page, lambda p: int(p.inner_text("#policy-count")) >= 15, timeout=30,
                 message="invoicing's read model has the book")
    screens(page, "invoicing-home")
    page.goto(f"{invoicing}/reconciliations")
    assert DEMO_CARRIER in page.inner_text("body")
    screens(page, "invoicing-reconciliations")

    # appointments: batches, producers (synced with the NIPR simulator), reference data
    page.goto(f"{appointments}/")
    assert page.locator("#batches tbody tr").count() >= 1
    screens(page, "appointments-batches")
    page.goto(f"{appointments}/producers")
    assert "Whitfield" in page.inner_text("body")
    screens(page, "appointments-producers")
    page.goto(f"{appointments}/reference?kind=companies")
    assert "Prairie Life Assurance Company" in page.inner_text("body")
    screens(page, "appointments-reference-data")

    # reporting: Team Screens over the upstream jobs and activities, the operations views
    page.goto(f"{reporting}/team-screens")
    assert page.inner_text("#calculated-on")
    assert "avery" in page.inner_text("#ts-activities")
    screens(page, "reporting-team-screens")
    page.goto(f"{reporting}/operations/statements")
    reload_until(page, lambda p: DEMO_CARRIER in p.inner_text("main, body"), timeout=30,
                 message="reporting's statements view shows the demo statement")
    screens(page, "reporting-operations-statements")
    page.goto(f"{platform.urls['gateway']}/")
    screens(page, "gateway")
    page.close()
