"""Producers editable at the service: the API and the form (errors in words by field, input kept), the
history (who changed what, before and after; personal values never in clear in the audit trail), and
a re-uploaded onboarding file that updates what changed and says so per row."""

from __future__ import annotations

import html

from appointments import models as m
from sqlalchemy import select

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import add_producer
from tests.appointments.producers.test_onboarding_service import HEADER


async def test_a_producer_is_edited_through_the_api_and_the_form_with_its_history(start_service, token_for) -> None:
    svc = await start_service("appointments")
    await add_producer(svc.runtime, "7100001", [], email="ana@example.com", first="Ana", last="Reyes")
    client = svc.as_user(token_for("licensing"))

    r = await client.patch("/api/producers/7100001", json={
        "email": "ana.reyes@example.com", "phone": "+1 512 555 0100", "business_address": "1 Main St, Austin TX",
        "agency_npn": "8800002", "agent_type": "Independent Agent"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["changed"] == ["agency_npn", "agent_type", "business_address", "email", "phone"]
    p = out["producer"]
    assert (p["email"], p["phone"], p["business_address"], p["agent_type"], p["updated_by"]) == (
        "ana.reyes@example.com", "+1 512 555 0100", "1 Main St, Austin TX", "Independent Agent", "licensing")
    same = (await client.patch("/api/producers/7100001", json={"email": "ana.reyes@example.com"})).json()
    assert same["changed"] == []  # nothing differs: nothing recorded

    bad = await client.patch("/api/producers/7100001", json={"email": "nope", "agency_npn": "9999999",
                                                             "first_name": ""})
    assert bad.status_code == 422
    assert bad.json()["detail"]["errors"] == {"email": "Email 'nope' is not an email address",
                                              "agency_npn": "Agency NPN 9999999 is not a known agency",
                                              "first_name": "First name is required"}
    assert (await client.get("/api/producers/7100001")).json()["email"] == "ana.reyes@example.com"  # nothing saved

    # The form: errors beside the fields, what was typed kept; then a good save.
    form = {"first_name": "Ana", "last_name": "Reyes", "email": "ana.reyes@example.com", "phone": "not a phone",
            "business_address": "2 Oak Ave", "mailing_address": "", "agency_npn": "8800002",
            "agent_type": "Independent Agent"}
    page = await client.post("/producers/7100001/edit", data=form)
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "Phone 'not a phone' is not a phone number" in text and 'value="not a phone"' in text
    assert "2 Oak Ave" in text  # kept, not saved
    assert (await client.get("/api/producers/7100001")).json()["business_address"] == "1 Main St, Austin TX"
    saved = await client.post("/producers/7100001/edit", data=form | {"phone": "512-555-0199"})
    assert saved.status_code == 303 and saved.headers["location"] == "/producers/7100001?saved=2"
    assert "Saved: 2 fields changed." in (await client.get(saved.headers["location"])).text

    history = (await client.get("/api/producers/7100001/history")).json()
    assert history["total"] == 2
    newest = history["items"][0]
    assert (newest["by"], newest["source"]) == ("licensing", {"kind": "edit"})
    assert {(c["field"], c["before"], c["after"]) for c in newest["changes"]} == {
        ("business_address", "1 Main St, Austin TX", "2 Oak Ave"), ("phone", "+1 512 555 0100", "512-555-0199")}
    first = {c["field"]: (c["before"], c["after"]) for c in history["items"][1]["changes"]}
    assert first["email"] == ("ana@example.com", "ana.reyes@example.com")
    assert first["agency_npn"] == ("8800001", "8800002") and first["agent_type"] == (None, "Independent Agent")
    assert (await client.get("/api/producers/7100001/history", params={"offset": 1, "limit": 1})).json()[
        "items"][0]["id"] == history["items"][1]["id"]
    shown = html.unescape((await client.get("/producers/7100001")).text)
    assert "History (2 changes)" in shown and "ana@example.com" in shown and "Independent Agent" in shown

    async with svc.runtime.db.session() as s:  # the audit trail keeps personal values encrypted only
        audit = svc.runtime.tables.audit_log
        details = " ".join((await s.execute(select(audit.c.detail).where(
            audit.c.action == "producer.changed"))).scalars())
    assert "ana@example.com" not in details and "Oak Ave" not in details and "555" not in details
    assert "Independent Agent" in details  # not personal: kept as it is

    viewer = svc.as_user(token_for("viewer"))
    assert (await viewer.patch("/api/producers/7100001", json={"email": "x@example.com"})).status_code == 403
    assert (await viewer.get("/api/producers/7100001/history")).status_code == 403
    assert (await viewer.get("/producers/7100001/edit")).status_code == 403
    missing = await client.patch("/api/producers/0000000", json={"email": "x@example.com"})
    assert missing.status_code == 404 and "no such producer" in missing.text
    unknown = await client.patch("/api/producers/7100001", json={"ssn": "123-45-6789"})
    assert unknown.status_code == 422


async def test_a_reuploaded_onboarding_file_updates_what_changed_and_says_so_per_row(start_service,
                                                                                      token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("licensing"))
    first = csv_bytes(HEADER, "8800001,Ana,Reyes,7200001,ana@example.com,,,,,,",
                      "8800001,Ben,Ito,7200002,ben@example.com,,,,,,")
    up = (await client.post("/api/producer-imports", files={"file": ("a.csv", first, "text/csv")})).json()
    done = (await client.post(f"/api/producer-imports/{up['id']}/process")).json()
    assert (done["producers_created"], done["producers_updated"]) == (2, 0)
    assert [r["outcome"] for r in (await client.get(f"/api/producer-imports/{up['id']}")).json()["rows"]] == [
        "created", "created"]

    # Ana moved agency and changed her email; Ben's row is the same; Cy is new; a blank email changes nothing.
    second = csv_bytes(HEADER, "8800002,Ana,Reyes,7200001,ana.r@example.com,,,,,,",
                       "8800001,Ben,Ito,7200002,,,,,,,", "8800001,Cy,Doe,7200003,,,,,,,")
    up2 = (await client.post("/api/producer-imports", files={"file": ("b.csv", second, "text/csv")})).json()
    done2 = (await client.post(f"/api/producer-imports/{up2['id']}/process")).json()
    assert (done2["producers_created"], done2["producers_existing"], done2["producers_updated"]) == (1, 2, 1)
    view = (await client.get(f"/api/producer-imports/{up2['id']}")).json()
    assert [(r["line"], r["outcome"]) for r in view["rows"]] == [
        (2, "updated: Email, Agency"), (3, "unchanged"), (4, "created")]
    assert "updated: Email, Agency" in (await client.get(f"/onboarding/{up2['id']}")).text
    async with svc.runtime.db.session() as s:
        ana = await s.scalar(select(m.Producer).where(m.Producer.npn == "7200001"))
        agency = await s.scalar(select(m.Agency.npn).where(m.Agency.id == ana.agency_id))
        ben_email = await s.scalar(select(m.Producer.email).where(m.Producer.npn == "7200002"))
    assert (ana.email, agency, ben_email) == ("ana.r@example.com", "8800002", "ben@example.com")
    change = (await client.get("/api/producers/7200001/history")).json()["items"][0]
    assert change["source"] == {"kind": "onboarding", "import_id": up2["id"], "line": 2}
    assert {c["field"]: (c["before"], c["after"]) for c in change["changes"]} == {
        "email": ("ana@example.com", "ana.r@example.com"), "agency_npn": ("8800001", "8800002")}
    again = (await client.post(f"/api/producer-imports/{up2['id']}/process")).json()
    assert (again["producers_created"], again["producers_updated"]) == (0, 0)  # processed twice: nothing new
