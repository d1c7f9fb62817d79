"""Statement import, matching, Create Policies, sessions and hand-over through HTTP, the database and
the real broker."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

from agency_common.contracts.intake import (
    PoliciesCreated,
    PoliciesUpdated,
    PolicyCreated,
    PolicySessionCreated,
    PolicyUpdated,
    StatementImported,
    StatementLinesPublished,
)
from sqlalchemy import select

from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

STATEMENT = (
    "Acme Insurance commission statement\r\n"
    "Period: 2026-10\r\n"
    "\r\n"
    "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
    "AC-100,Jane Roe,NBS,01/15/2026,01/15/2027,AUTOP,\"$1,234.56\",15%,185.18\r\n"
    "ac 101,\"Smith, John\",PCH,2026-02-01,2027-02-01,HOME,(100.00),0.15,(15.00)\r\n"
    ",,,,,,,,\r\n"
    "NEW-1,\"New\nClient\",NBS,03/01/2026,03/01/2027,AUTOP,500.00,10%,50.00\r\n"
    "NEW-2,new client,RWL,03/01/2026,03/01/2027,AUTOP,600.00,10%,60.00\r\n"
    "BAD-1,=HYPERLINK(\"http://x\"),ZZZ,31/31/2026,,AUTOP,abc,15%,\r\n"
    "AMB 7,Twin,AUD,2026-04-01,,AUTOP,10.00,,1.00\r\n"
)


async def wait_imported(client, sid: str) -> dict:
    async def done():
        body = (await client.get(f"/api/statements/{sid}")).json()
        return body if body["status"] in ("imported", "failed") else None
    return await eventually(done, timeout=20, message="statement imported")


async def test_import_match_create_policies_and_publish(start_service, token_for, kafka) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Acme")
        for number in ("AC100", "AC-101", "AMB-7", "AMB7"):
            r = await client.post("/api/policies", json={"carrier": "Acme", "policy_number": number,
                                                         "client_name": f"Holder {number}"})
            assert r.status_code == 201, r.text
        r = await client.put("/api/carrier-profiles/Acme", json={"prefixes": [], "bill_types": {"NBS": "term_policy"}})
        assert r.status_code == 200, r.text

        files = {"file": ("acme.csv", STATEMENT.encode("utf-8-sig"), "text/csv")}
        r = await client.post("/api/statements", files=files, data={"carrier": "Acme"})
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        body = await wait_imported(client, sid)
        assert body["status"] == "imported", body
        assert (body["total"], body["valid"], body["invalid"], body["blank"]) == (7, 5, 1, 1)
        assert body["total"] == body["valid"] + body["invalid"] + body["blank"]
        assert (body["matched"], body["unmatched"], body["ambiguous"]) == (2, 2, 1)

        lines = (await client.get(f"/api/statements/{sid}/lines", params={"match": "ambiguous"})).json()
        assert "AMB-7" in lines["items"][0]["match_reason"] and "AMB7" in lines["items"][0]["match_reason"]
        bad = (await client.get(f"/api/statements/{sid}/lines", params={"validity": "invalid"})).json()["items"][0]
        assert bad["line_no"] == 11 and len(bad["errors"]) == 3, bad["errors"]

        # the same file again is refused with a reference to the first import; an override re-imports it
        dup = await client.post("/api/statements", files=files, data={"carrier": "Acme"})
        assert dup.status_code == 409 and dup.json()["first_import_id"] == sid
        again = await client.post("/api/statements", files=files, data={"carrier": "Acme", "override": "true"})
        assert again.status_code == 202
        assert (await wait_imported(client, again.json()["id"]))["status"] == "imported"

        # invalid rows come back as CSV (formulas neutralised) and can be re-imported once corrected
        errors = await client.get(f"/api/statements/{sid}/errors.csv")
        assert errors.status_code == 200
        rows = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
        assert rows[0][:2] == ["Policy #", "Named Insured"] and rows[0][-2:] == ["Error line", "Error reasons"]
        assert rows[1][1].startswith("'=HYPERLINK") and rows[1][-2] == "11"
        fixed = io.StringIO()
        w = csv.writer(fixed)
        w.writerow(rows[0])
        w.writerow(["BAD-1", "Fixed Name", "NBS", "03/31/2026", "", "AUTOP", "12.00", "15%", "", "11", ""])
        r = await client.post("/api/statements", files={"file": ("fixed.csv", fixed.getvalue().encode(), "text/csv")},
                              data={"carrier": "Acme"})
        assert (await wait_imported(client, r.json()["id"]))["valid"] == 1

        # Create Policies from the unmatched lines: one transaction, one session, idempotent
        key = str(uuid.uuid4())
        req = {"idempotency_key": key, "defaults": {"line_of_business": "Personal Auto", "status": "active"},
               "overrides": {"8": {"client_name": "New Client"}}}
        r = await client.post(f"/api/statements/{sid}/create-policies", json=req)
        assert r.status_code == 201, r.text
        session = r.json()
        assert session["count"] == 2 and session["created_by"] == "clerk"
        r2 = await client.post(f"/api/statements/{sid}/create-policies", json=req)
        assert r2.status_code == 200 and r2.json()["id"] == session["id"]
        body = (await client.get(f"/api/statements/{sid}")).json()
        assert (body["matched"], body["unmatched"], body["ambiguous"]) == (4, 0, 1)

        preview = (await client.get(f"/api/policy-sessions/{session['id']}")).json()
        assert sorted(p["policy_number"] for p in preview["policies"]) == ["NEW-1", "NEW-2"]
        assert {p["client_name"] for p in preview["policies"]} == {"New Client"}  # one client, found by name
        listing = (await client.get("/api/policy-sessions", params={"user": "clerk", "sort": "-count"})).json()
        assert listing["total"] == 1 and listing["items"][0]["count"] == 2
        assert (await client.get("/api/policy-sessions", params={"user": "nobody"})).json()["total"] == 0
        today = datetime.now(UTC).date()
        assert (await client.get("/api/policy-sessions", params={"date_from": str(today), "date_to": str(today)})).json()["total"] == 1
        assert (await client.get("/api/policy-sessions", params={"date_to": str(today - timedelta(days=1))})).json()["total"] == 0
        assert (await client.get("/api/policy-sessions", params={"sort": "bogus"})).status_code == 422
        manual = (await client.get("/api/policies", params={"carrier": "Acme"})).json()["items"]
        assert all(p["session_id"] is None for p in manual if p["policy_number"].startswith(("AC", "AMB")))
        exported = await client.get(f"/api/policy-sessions/{session['id']}/policies.csv")
        assert "NEW-1" in exported.text

        # Update Policies (by Carrier), filtered by session, audited
        r = await client.post("/api/policies/update-by-carrier", json={
            "filter": {"carrier": "Acme", "session_id": session["id"]}, "changes": {"line_of_business": "Commercial Auto"}})
        assert r.status_code == 200 and r.json()["count"] == 2 and r.json()["updated_by"] == "clerk"
        audits = (await client.get("/api/policy-update-audits")).json()["items"]
        assert audits[0]["filter"]["session_id"] == session["id"]

        # publishing needs every line matched, or the unmatched ones excluded
        r = await client.post(f"/api/statements/{sid}/publish", json={})
        assert r.status_code == 409
        r = await client.post(f"/api/statements/{sid}/publish", json={"exclude_unmatched": True})
        assert r.status_code == 200 and r.json()["status"] == "published", r.text

    runtime = intake.runtime
    outbox = runtime.tables.outbox

    async def sent_types():
        async with runtime.db.session() as s:
            rows = (await s.execute(select(outbox.c.event_type, outbox.c.sent_at, outbox.c.payload))).all()
        return rows if rows and all(r[1] is not None for r in rows) else None
    rows = await eventually(sent_types, message="outbox drained to the broker")
    types = [r[0] for r in rows]
    assert types.count(StatementImported.event_type) == 3
    assert types.count(PolicySessionCreated.event_type) == 1
    assert types.count(StatementLinesPublished.event_type) == 1
    # the policies by hand one event each; Create Policies and Update by Carrier one chunk each (issue 17)
    assert types.count(PolicyCreated.event_type) == 4 and types.count(PolicyUpdated.event_type) == 0
    bulk = {r[0]: json.loads(r[2])["payload"] for r in rows if r[0] in (PoliciesCreated.event_type,
                                                                          PoliciesUpdated.event_type)}
    assert types.count(PoliciesCreated.event_type) == 1 and types.count(PoliciesUpdated.event_type) == 1
    assert sorted(p["policy_number"] for p in bulk[PoliciesCreated.event_type]["policies"]) == ["NEW-1", "NEW-2"]
    assert [c["changed_fields"] for c in bulk[PoliciesUpdated.event_type]["changes"]] == [["line_of_business"]] * 2


async def test_permissions_and_hostile_uploads(start_service, token_for) -> None:
    intake = await start_service("intake", max_upload_bytes=50_000)
    async with intake.as_user(token_for("viewer")) as client:
        r = await client.post("/api/statements", files={"file": ("a.csv", b"x", "text/csv")}, data={"carrier": "A"})
        assert r.status_code == 403
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "A")
        r = await client.post("/api/statements", files={"file": ("a.csv", b"", "text/csv")}, data={"carrier": "A"})
        assert r.status_code == 422 and "empty" in r.text
        r = await client.post("/api/statements", files={"file": ("a.csv", b"x" * 200_000, "text/csv")},
                              data={"carrier": "A"})
        assert r.status_code == 413
        r = await client.post("/api/statements", files={"file": ("a.csv", b"hello,world\n1,2\n", "text/csv")},
                              data={"carrier": "A"})
        body = await wait_imported(client, r.json()["id"])
        assert body["status"] == "failed" and "not a statement" in body["error"]
