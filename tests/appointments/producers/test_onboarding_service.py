"""Bulk onboarding files with bad rows, re-processing, PII, portal invites and the mail adapter."""

from __future__ import annotations

from pathlib import Path

from appointments import models as m
from appointments.portals.portals import NO_AGENCY, NO_EMAIL, NO_SEATS
from sqlalchemy import func, select

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import TX_LH, add_producer
from tests.support.inprocess import eventually

HEADER = "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,Scorecard Type,Agent Type,CoCode(s)"
FILE = csv_bytes(
    HEADER,
    "8800001,Ana,Reyes,7000001,ana@example.com,123456789,Life & Health,CA;TX,License and Appointment,Producer,60054",
    "8800001,Ben,Ito,7000002,,,,,,,",
    ",,,,,,,,,,",
    "9999999,Cy,Doe,7000003,,,,,,,",                                   # unknown agency
    "8800001,,Doe,70000X4,not-an-email,12-34,,,,,",                    # missing first name, bad NPN/email/SSN
    "8800001,Di,Roe,7000005,,,Life & Health,CA; TX,License,Producer,",  # spaces in a multi-value
    "8800001,Ed,Poe,7000006,,,Life & Health,CA;ZZ,License,Wizard,",    # unaccepted state and agent type
    "8800001,Flo,Ng,7000001,,,,,,,",                                   # NPN repeated in the file
    "8800001,Gus,Ali,7000007,,,Life & Health,TX,License and Appointment,Producer,",  # CoCodes required
    ",,,,,,,,,,",
)


async def test_onboarding_file_rows_errors_and_reprocessing(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("licensing"))
    template = await client.get("/api/producer-imports/template.csv")
    assert template.text.splitlines()[0].startswith("Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN")
    accepted = (await client.get("/api/producer-imports/accepted-values.csv")).text
    assert "Life & Health" in accepted and "60054" in accepted and "8800001" in accepted

    r = await client.post("/api/producer-imports", files={"file": ("agents.csv", FILE, "text/csv")})
    assert r.status_code == 201, r.text
    parsed = r.json()
    assert (parsed["total_rows"], parsed["valid_rows"], parsed["invalid_rows"], parsed["blank_rows"]) == (8, 2, 6, 2)
    errors = {row["line"]: row["errors"] for row in parsed["rows"]}
    assert errors[2] == [] and errors[3] == []
    assert errors[5] == ["Agency NPN 9999999 is not a known agency"]
    assert set(errors[6]) == {"First Name is required", "Agent NPN '70000X4' must be 1 to 10 digits",
                              "Agent Email 'not-an-email' is not an email address",
                              "Agent SSN must be 9 digits (123-45-6789)"}
    assert any("no spaces" in e for e in errors[7])
    assert set(errors[8]) == {"States: 'ZZ' is not an accepted value", "Agent Type: 'Wizard' is not an accepted value"}
    assert errors[9] == ["Agent NPN 7000001 already appears on line 2"]
    assert errors[10] == ["CoCodes are required for a License and Appointment scorecard"]
    assert parsed["rows"][0]["values"]["Agent SSN"] == "*****6789"  # masked in what is shown
    bad_csv = (await client.get(f"/api/producer-imports/{parsed['id']}/invalid-rows.csv")).text
    assert len(bad_csv.strip().splitlines()) == 7

    done = (await client.post(f"/api/producer-imports/{parsed['id']}/process")).json()
    assert (done["producers_created"], done["assignments_added"], done["license_syncs_requested"]) == (2, 2, 2)
    again = (await client.post(f"/api/producer-imports/{parsed['id']}/process")).json()
    assert (again["producers_created"], again["assignments_added"], again["license_syncs_requested"]) == (0, 0, 0)
    second = (await client.post("/api/producer-imports", files={"file": ("agents.csv", FILE, "text/csv")})).json()
    re2 = (await client.post(f"/api/producer-imports/{second['id']}/process")).json()
    assert (re2["producers_created"], re2["producers_existing"], re2["assignments_added"]) == (0, 2, 0)
    async with svc.runtime.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(m.Producer)) == 2
        stored = (await s.execute(select(m.BulkImportRow.data).where(m.BulkImportRow.line == 2))).scalars().first()
        ssn = await s.scalar(select(m.Producer.ssn_encrypted).where(m.Producer.npn == "7000001"))
        outbox = svc.runtime.tables.outbox
        syncs = await s.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.event_type == "appointments.license-sync.requested"))
    assert "123-45-6789" not in str(stored) and ssn and "123-45-6789" not in ssn and "123456789" not in ssn
    assert svc.runtime.pii.decrypt(ssn) == "123-45-6789"
    assert syncs == 2
    assert (await client.get("/api/producers/7000001")).json()["ssn"] == "*******6789"
    # Daily refresh: nothing is due right after the sync request; a day after the last sync it is.
    from datetime import timedelta

    from agency_common.timeutil import utcnow
    from appointments.producers.license_sync import producers_due_for_sync
    from sqlalchemy import update

    day, hour = timedelta(days=1), timedelta(hours=1)
    async with svc.runtime.db.transaction() as s:
        assert await producers_due_for_sync(s, day, hour) == []
        await s.execute(update(m.Producer).where(m.Producer.npn == "7000001").values(
            synced_at=utcnow() - timedelta(days=2), sync_requested_at=utcnow() - timedelta(days=2), sync_status="synced"))
        await s.execute(update(m.Producer).where(m.Producer.npn == "7000002").values(
            sync_requested_at=utcnow() - timedelta(hours=2)))  # asked, never answered: ask again
        assert await producers_due_for_sync(s, day, hour) == ["7000001", "7000002"]
    assert (await svc.as_user(token_for("admin")).get("/api/producers/7000001")).json()["ssn"] == "123-45-6789"
    assert (await svc.as_user(token_for("clerk")).post(
        "/api/producer-imports", files={"file": ("a.csv", FILE, "text/csv")})).status_code == 403
    empty = await client.post("/api/producer-imports", files={"file": ("e.csv", b"", "text/csv")})
    assert empty.status_code == 422


async def test_portal_invites_errors_seats_and_mail(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    ids = [await add_producer(rt, f"600000{i}", [("TX", TX_LH, True)], email=f"p{i}@example.com") for i in range(3)]
    no_email = await add_producer(rt, "6000010", [], email=None)
    no_agency = await add_producer(rt, "6000011", [], agency_npn=None)
    client = svc.as_user(token_for("licensing"))
    portal = next(p for p in (await client.get("/api/portals")).json() if p["name"] == "Recruiting Portal")
    assert portal["seats"] == 2
    r = (await client.post("/api/portal-invites", json={"portal_id": portal["id"],
                                                        "producer_ids": [*ids, no_email, no_agency]})).json()
    outcome = [(x["ok"], x.get("error")) for x in r["results"]]
    assert outcome == [(True, None), (True, None), (False, NO_SEATS), (False, NO_EMAIL), (False, NO_AGENCY)]
    again = (await client.post("/api/portal-invites", json={"portal_id": portal["id"], "producer_ids": ids[:1]})).json()
    assert again["results"][0]["action"] == "updated"  # Create/Update: no second seat
    assert (await svc.as_user(token_for("clerk")).post(
        "/api/portal-invites", json={"portal_id": portal["id"], "producer_ids": ids})).status_code == 403
    outbox_dir = Path(rt.settings.data_dir) / "outbox-mail"
    wanted = {x["invite_id"] for x in r["results"] if x["ok"]} | {again["results"][0]["invite_id"]}
    await eventually(lambda: wanted <= {p.stem for p in outbox_dir.glob("*.eml")}, timeout=45,
                     message="invitations written by the email adapter")
    mail = (outbox_dir / f"{again['results'][0]['invite_id']}.eml").read_text()
    assert "To: p0@example.com" in mail and "Recruiting Portal" in mail
    page = await svc.as_user(token_for("admin")).post("/producers/invite", data={
        "portal_id": portal["id"], "producer_id": [no_email]})
    assert page.status_code == 200 and NO_EMAIL in page.text
