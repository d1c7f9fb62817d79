"""The audit trail of appointments (issue 19 item 6): every reveal of a producer's SSN, every export
that carries producers' personal data, every batch sent to NIPR and every termination file submitted
is a row a reviewer reads back (who, what, how many), never with a PII value in it."""

from __future__ import annotations

from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import insert

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import TX_LH, add_producer
from tests.appointments.producers.test_onboarding_service import FILE


async def trail(svc, token_for, action: str, **params) -> list[dict]:
    async with svc.as_user(token_for("admin")) as admin:
        answer = (await admin.get("/api/audit", params={"action": action, "limit": 500, **params})).json()
    assert answer["total"] == len(answer["items"])
    return answer["items"][::-1]  # oldest first


async def test_reveals_and_exports_of_producer_pii_are_recorded(start_service, token_for) -> None:
    svc = await start_service("appointments")
    licensing, admin = svc.as_user(token_for("licensing")), svc.as_user(token_for("admin"))
    parsed = (await licensing.post("/api/producer-imports", files={"file": ("agents.csv", FILE, "text/csv")})).json()
    await licensing.post(f"/api/producer-imports/{parsed['id']}/process")

    # masked for licensing (no pii:reveal): nothing revealed, nothing recorded
    assert (await licensing.get("/api/producers/7000001")).json()["ssn"] == "*******6789"
    assert (await licensing.get("/producers")).status_code == 200
    assert await trail(svc, token_for, "pii.revealed") == []

    assert (await admin.get("/api/producers/7000001")).json()["ssn"] == "123-45-6789"
    listed = (await admin.get("/api/producers")).json()["items"]
    assert {p["npn"]: p["ssn"] for p in listed} == {"7000001": "123-45-6789", "7000002": None}
    assert "123-45-6789" in (await admin.get("/producers/7000001")).text
    assert "123-45-6789" in (await admin.get("/producers")).text
    reveals = await trail(svc, token_for, "pii.revealed")
    # one row per producer shown in clear (7000002 has no SSN: nothing of it revealed)
    assert [(r["actor"], r["subject_type"], r["subject_id"], r["detail"]) for r in reveals] == \
        [("admin", "producer", "7000001", {"fields": ["ssn"]})] * 4
    assert len(await trail(svc, token_for, "pii.revealed", subject_id="7000001")) == 4
    assert all("123-45-6789" not in str(r) and "6789" not in str(r["detail"]) for r in reveals)

    bad = (await licensing.get(f"/api/producer-imports/{parsed['id']}/invalid-rows.csv")).text
    assert len(bad.strip().splitlines()) == 1 + 6
    [export] = await trail(svc, token_for, "pii.exported")
    assert (export["actor"], export["subject_id"]) == ("licensing", "producer-import-invalid-rows")
    assert export["detail"]["rows"] == 6 and export["detail"]["import_id"] == parsed["id"]
    assert export["detail"]["pii_columns"] == ["First Name", "Last Name", "Agent Email", "Agent SSN"]
    assert export["detail"]["masked"] == ["Agent SSN"]

    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": "7000001", "state": st, "line_of_authority": "Life", "cocode": "60054", "status": v.APPOINTED}
            for st in ("CA", "NY", "TX")])
    report = await licensing.get("/api/appointments", params={"state": "CA;NY", "format": "csv"})
    assert report.status_code == 200 and "Ana Reyes" in report.content.decode("utf-8-sig")
    empty = await licensing.get("/api/appointments", params={"cocode": "99999", "format": "csv"})
    assert empty.status_code == 200  # no rows: no personal data left, nothing recorded
    exports = await trail(svc, token_for, "pii.exported")
    assert len(exports) == 2
    assert (exports[1]["subject_id"], exports[1]["detail"]) == ("appointments-report", {
        "rows": 2, "columns": ["Related Producer", "NPN", "State Code", "Line of Authority", "CoCode"],
        "pii_columns": ["Related Producer"], "filters": {"state": "CA;NY"}})


async def test_batches_sent_to_nipr_and_terminations_submitted_are_recorded_with_counts(start_service,
                                                                                         token_for) -> None:
    svc = await start_service("appointments")
    await add_producer(svc.runtime, "5590001", [("TX", TX_LH, True)])
    licensing = svc.as_user(token_for("licensing"))
    held = (await licensing.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5590001", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["60054"],
         "submit": False}]})).json()
    batch = held["batches"][0]["batch_id"]
    assert await trail(svc, token_for, "batch.submitted") == []  # held for review: nothing sent yet
    sent = (await licensing.post(f"/api/transaction-batches/{batch}/submit")).json()
    assert sent["status"] == "submitted"
    [submitted] = await trail(svc, token_for, "batch.submitted")
    assert (submitted["actor"], submitted["subject_type"], submitted["subject_id"]) == \
        ("licensing", "transaction_batch", batch)
    assert submitted["detail"] == {"kind": "appointment", "cocode": "60054",
                                   "transactions": sent["counts"][v.SUBMITTED]}

    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": "5590002", "state": st, "line_of_authority": "Life", "cocode": "60054", "status": v.APPOINTED}
            for st in ("CA", "NY")])
    content = csv_bytes("Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code",
                        "5590002,CA;NY,Life,60054,", "5590002,PA,Life,60054,", "5590009,CA,Life,60054,")
    imp = (await licensing.post("/api/termination-imports", files={"file": ("t.csv", content, "text/csv")})).json()
    out = (await licensing.post(f"/api/termination-imports/{imp['id']}/submit", json={"batch_size": 1})).json()
    [terminations] = await trail(svc, token_for, "terminations.submitted")
    assert (terminations["actor"], terminations["subject_id"]) == ("licensing", imp["id"])
    assert terminations["detail"] == {"immediate": False, "transactions": 2, "batches": 2, "manual_tasks": 0,
                                      "refused": len(out["refused"])}
    first, second = (b["batch_id"] for b in out["batches"])
    await licensing.post(f"/api/transaction-batches/{first}/submit")
    closed = (await licensing.post("/api/transactions/close", json={
        "transaction_ids": [t["id"] for t in (await licensing.get(f"/api/transaction-batches/{second}")).json()[
            "transactions"]], "reason": "kept after a call"})).json()
    assert len(closed["closed"]) == 1

    assert [(r["subject_id"], r["detail"]["kind"], r["detail"]["transactions"])
            for r in await trail(svc, token_for, "batch.submitted")] == [
        (batch, "appointment", submitted["detail"]["transactions"]), (first, "termination", 1)]
    [withdrawn] = await trail(svc, token_for, "transactions.closed")
    assert (withdrawn["actor"], withdrawn["subject_id"], withdrawn["detail"]) == ("licensing", second, {
        "closed": 1, "refused": 0, "reason": "kept after a call", "batch_count": 1, "batches": [second]})
