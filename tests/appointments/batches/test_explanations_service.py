"""Explain-why at the service: a Not Eligible transaction keeps the facts that decided it (the
license, line, company state setting and business rule rows with effective date and source), shown
one click from the batch and the producer pages and in the JSON API."""

from __future__ import annotations

import html

from appointments.domain import vocabulary as v

from tests.appointments.helpers import TX_LH, add_producer

SOURCE_SETTING = "Carrier onboarding checklist (dev dataset)"
SOURCE_RULE = "Gateway business rules setup (dev dataset)"


async def test_a_not_eligible_transaction_explains_itself_on_its_page_and_in_the_api(start_service, token_for) -> None:
    svc = await start_service("appointments")
    # Resident in TX; in CA only a license holding Life, so CA's other Life & Health lines are Not Found.
    await add_producer(svc.runtime, "5570001", [("TX", TX_LH, True), ("CA", "Life", False)])
    client = svc.as_user(token_for("licensing"))
    r = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5570001", "states": ["CA", "WY"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})).json()
    txs = r["results"][0]["transactions"]
    ne = next(t for t in txs if t["state"] == "CA" and t["line_of_authority"] == "Part time fraternal")
    ok = next(t for t in txs if t["state"] == "CA" and t["line_of_authority"] == "Life")
    wy = next(t for t in txs if t["state"] == "WY")
    assert (ne["status"], ne["eligibility_reason"], ok["status"]) == (v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND, v.READY)

    got = (await client.get(f"/api/transactions/{ne['id']}")).json()
    why = got["explanation"]
    assert (got["id"], got["status"], why["reason"]) == (ne["id"], v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND)
    assert why["rule"] == "no license of the producer in CA holds Part time fraternal"
    assert (why["state"], why["cocode"], why["line_of_authority"], why["loa_category"]) == (
        "CA", "60054", "Part time fraternal", "Life & Health")
    assert why["company"] == "Summit Mutual Life Insurance Company"
    assert (why["state_setting"]["table"], why["state_setting"]["effective_date"], why["state_setting"]["source"]) == (
        "company_state_settings", "2024-01-01", SOURCE_SETTING)
    assert (why["business_rule"]["table"], why["business_rule"]["effective_date"], why["business_rule"]["source"]) == (
        "business_rules", "2024-01-01", SOURCE_RULE)
    assert "Part time fraternal is an active line" in why["business_rule"]["says"]
    assert [(lic["license_number"], lic["in_force"], lic["holds_line"], lic["lines_of_authority"])
            for lic in why["licenses"]] == [("CA-5570001", True, False, ["Life"])]
    assert why["licenses"][0]["fetched_at"]  # when NIPR's record was read
    assert (await client.get(f"/api/transactions/{ok['id']}")).json()["explanation"] is None  # eligible
    wy_why = (await client.get(f"/api/transactions/{wy['id']}")).json()["explanation"]
    assert wy_why["state_setting"] is None and wy_why["business_rule"] is None
    assert "no business rule in force in WY" in wy_why["rule"] and "no company state setting" in wy_why["rule"]

    # One click away: the batch page and the producer page link the reason to the transaction's page.
    batch = (await client.get(f"/batches/{ne['batch_id']}")).text
    assert f'href="/transactions/{ne["id"]}#why"' in batch
    assert f'href="/transactions/{ok["id"]}#why"' not in batch
    assert f'href="/transactions/{ne["id"]}#why"' in (await client.get("/producers/5570001")).text
    page = html.unescape((await client.get(f"/transactions/{ne['id']}")).text)
    assert "Why Not Eligible" in page and "no license of the producer in CA holds Part time fraternal" in page
    assert SOURCE_SETTING in page and SOURCE_RULE in page and "CA-5570001" in page
    assert "Summit Mutual Life Insurance Company appoints in CA" in page

    # Permissions and unknown ids, in words.
    viewer = svc.as_user(token_for("viewer"))
    assert (await viewer.get(f"/api/transactions/{ne['id']}")).status_code == 403
    assert (await viewer.get(f"/transactions/{ne['id']}")).status_code == 403
    missing = await client.get("/api/transactions/nope")
    assert missing.status_code == 404 and "no such transaction" in missing.text


async def test_a_transaction_refused_at_submit_as_a_duplicate_names_the_one_pending(start_service, token_for) -> None:
    from appointments import models as m
    from sqlalchemy import select, update

    svc = await start_service("appointments")
    await add_producer(svc.runtime, "5570002", [("TX", TX_LH, True), ("CA", "Life", False)])
    client = svc.as_user(token_for("licensing"))
    r = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5570002", "states": ["CA"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})).json()
    txs = r["results"][0]["transactions"]
    ready = next(t for t in txs if t["status"] == v.READY)
    other = next(t for t in txs if t["status"] == v.NOT_ELIGIBLE)
    T = m.AppointmentTransaction
    async with svc.runtime.db.transaction() as s:  # as if an identical one had reached NIPR meanwhile
        key = await s.scalar(select(T.identity_key).where(T.id == ready["id"]))
        await s.execute(update(T).where(T.id == other["id"]).values(status=v.SUBMITTED, identity_key=key))
    await client.post(f"/api/transaction-batches/{ready['batch_id']}/submit")
    got = (await client.get(f"/api/transactions/{ready['id']}")).json()
    assert (got["status"], got["eligibility_reason"]) == (v.NOT_ELIGIBLE, v.DUPLICATE_PENDING)
    assert got["explanation"]["matches"] == [other["id"]] and "already pending at NIPR" in got["explanation"]["rule"]
    page = (await client.get(f"/transactions/{ready['id']}")).text
    assert f'href="/transactions/{other["id"]}"' in page
