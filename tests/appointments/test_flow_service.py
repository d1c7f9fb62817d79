"""Bulk onboarding → NIPR sync through the gateway → bulk appoint → submission through the real
broker to the gateway and its simulator (with a failure the adapter retries without submitting
twice) → results → bulk terminate."""

from __future__ import annotations

from agency_common.contracts.appointments import TransactionStatusesChanged
from agency_common.contracts.registry import decode
from agency_common.contracts.topics import APPOINTMENTS_TRANSACTIONS
from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import select

from tests.appointments.conftest import csv_bytes
from tests.support.inprocess import eventually

HEADER = "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,Scorecard Type,Agent Type,CoCodes"


async def onboard(client, *rows: str) -> dict:
    r = await client.post("/api/producer-imports", files={"file": ("agents.csv", csv_bytes(HEADER, *rows), "text/csv")})
    assert r.status_code == 201, r.text
    parsed = r.json()
    p = await client.post(f"/api/producer-imports/{parsed['id']}/process")
    assert p.status_code == 200, p.text
    return parsed | {"processed": p.json()}


async def test_onboard_sync_appoint_submit_retry_terminate(start_service, gateway, simulator, token_for) -> None:
    appts = await start_service("appointments")
    client = appts.as_user(token_for("licensing"))
    out = await onboard(client, "8800002,Dana,Whitfield,1234567,dana@example.com,123-45-6789,,,,,",
                        "8800002,Unknown,Person,9000001,,,,,,,")
    assert out["processed"]["producers_created"] == 2

    async def synced() -> bool:
        r = (await client.get("/api/producers/1234567")).json()
        n = (await client.get("/api/producers/9000001")).json()
        return r["sync_status"] == "synced" and n["sync_status"] == "not_found"

    await eventually(synced, timeout=45, message="licenses fetched through the gateway")
    producer = (await client.get("/api/producers/1234567")).json()
    assert {lic["state"]: lic["resident"] for lic in producer["licenses"]} == {"TX": True, "CA": False}
    assert producer["ssn"] == "*******6789"  # masked without pii:reveal

    # Bulk appoint: CA with two CoCodes (two batches), FL is JIT and unlicensed, an unsynced NPN.
    body = {"requests": [
        {"npn": "1234567", "states": ["CA"], "loa_category": "Life & Health", "cocodes": ["60054"],
         "submit": True, "submitJustInTime": False},
        {"npn": "1234567", "states": ["CA"], "loa_category": "Life & Health", "cocodes": ["60055"]},
        {"npn": "1234567", "states": ["FL"], "loa_category": "Life & Health", "cocodes": ["60054"]},
        {"npn": "9000001", "states": ["CA"], "loa_category": "Life & Health", "cocodes": ["60054"]},
    ]}
    r = await client.post("/api/appointments/bulk", json=body)
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    ca1, ca2, fl, unsynced = res
    assert unsynced["rejected"] and unsynced["rejection_reason"] == v.NPN_NOT_SYNCED and unsynced["transactions"] == []
    assert len(ca1["transactions"]) == 4  # every active CA line of Life & Health
    assert {t["status"] for t in ca1["transactions"]} == {v.SUBMITTED}
    assert {t["status"] for t in ca2["transactions"]} == {v.READY}
    assert {t["batch_id"] for t in ca1["transactions"]} != {t["batch_id"] for t in ca2["transactions"]}
    assert {(t["status"], t["eligibility_reason"], t["billable"]) for t in fl["transactions"]} == \
        {(v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND, False)}
    assert fl["transactions"][0]["batch_id"] == ca1["transactions"][0]["batch_id"]  # one batch per CoCode
    batch1 = ca1["transactions"][0]["batch_id"]
    batch2 = ca2["transactions"][0]["batch_id"]

    # Billing before submission: the 60055 batch shows counts and the fee estimate (CA $24 each).
    b2 = (await client.get(f"/api/transaction-batches/{batch2}")).json()
    assert (b2["billable"], b2["non_billable"], b2["fee_ready_to_submit"]) == (4, 0, "96.00")
    b1 = (await client.get(f"/api/transaction-batches/{batch1}")).json()
    assert (b1["billable"], b1["non_billable"]) == (4, 3)

    async def batch_done(bid: str) -> dict | None:
        b = (await client.get(f"/api/transaction-batches/{bid}")).json()
        return b if b["status"] == "completed" else None

    done = await eventually(lambda: batch_done(batch1), timeout=45, message="auto-submitted batch answered")
    statuses = {t["status"] for t in done["transactions"] if t["billable"]}
    assert statuses == {v.APPOINTED}
    assert all(t["nipr_reference"].startswith("GT-") for t in done["transactions"] if t["billable"])

    # The same request again: identical appointments are refused, nothing billable is created.
    again = (await client.post("/api/appointments/bulk", json={"requests": [body["requests"][0]]})).json()
    assert [t for t in again["results"][0]["transactions"] if t["billable"]] == []
    assert {x["reason"] for x in again["results"][0]["refused"]} == {v.ALREADY_APPOINTED}

    # Submit the second batch while NIPR loses its answer once: the adapter looks it up, never resubmits.
    simulator.fail_next(1, after_receipt=True)
    sub = await client.post(f"/api/transaction-batches/{batch2}/submit")
    assert sub.status_code == 200 and sub.json()["submitted_by"] == "licensing"
    assert (await client.post(f"/api/transaction-batches/{batch2}/submit")).status_code == 409
    done2 = await eventually(lambda: batch_done(batch2), timeout=45, message="batch answered after a retry")
    assert {t["status"] for t in done2["transactions"]} == {v.APPOINTED}
    assert simulator.double_submissions == []
    assert len(simulator.submissions) == 8
    subs = (await gateway.as_user(token_for("licensing")).get(f"/api/submissions?batch_id={batch2}")).json()["items"]
    assert {s["attempts"] for s in subs} == {2} and {s["status"] for s in subs} == {"answered"}

    # Appointments report → terminate file (blank code takes the state default; bad rows are errors).
    report = await client.get("/api/appointments", params={"cocode": "60054", "status": "Appointed", "state": "CA",
                                                           "format": "csv"})
    lines = report.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "Related Producer,NPN,State Code,Line of Authority,CoCode" and len(lines) == 5
    term = csv_bytes("Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code",
                     "1234567,CA,Life,60054,",
                     "1234567,CA,Part time fraternal,60054,DEATH",
                     ",,,,",
                     "1234567,CA,Life,60054,NOT_A_CODE",
                     "1234567,TX,Life Agent,60054,CANCELLED_FOR_CAUSE",
                     "1234567,CA;TX,Life,60055,")
    parsed = await client.post("/api/termination-imports", files={"file": ("term.csv", term, "text/csv")})
    assert parsed.status_code == 201, parsed.text
    p = parsed.json()
    assert (p["total_rows"], p["valid_rows"], p["blank_rows"]) == (5, 2, 1)
    errors = {r["line"]: r["errors"] for r in p["rows"] if not r["valid"]}
    assert "Termination Reason Code NOT_A_CODE is not accepted in State: CA" in errors[5]
    assert "Termination Reason Code CANCELLED_FOR_CAUSE is not accepted in State: TX" in errors[6]
    assert any("no Appointed appointment" in e for e in errors[7])  # TX was never appointed for 60055
    submitted = await client.post(f"/api/termination-imports/{p['id']}/submit", json={"immediate": True})
    assert submitted.status_code == 200 and submitted.json()["transactions"] == 2
    assert (await client.post(f"/api/termination-imports/{p['id']}/submit")).status_code == 409
    tb = submitted.json()["batches"][0]["batch_id"]
    tdone = await eventually(lambda: batch_done(tb), timeout=45, message="terminations answered")
    assert {(t["status"], t["termination_reason_code"]) for t in tdone["transactions"]} == \
        {(v.TERMINATED, "VOLUNTARY_TERMINATION"), (v.TERMINATED, "DEATH")}
    left = (await client.get("/api/appointments", params={"cocode": "60054", "status": "Appointed"})).json()["items"]
    assert {r["line_of_authority"] for r in left} == {"Accident & Health or Sickness (including Disability)",
                                                       "Health and Sickness (excluding Disability)"}
    async with appts.runtime.db.session() as s:
        out = appts.runtime.tables.outbox
        status_events = [decode(APPOINTMENTS_TRANSACTIONS, r.payload.encode()).payload for r in (await s.execute(
            select(out.c.payload).where(out.c.topic == APPOINTMENTS_TRANSACTIONS))).all()]
        raw_ssn = (await s.execute(select(m.Producer.ssn_encrypted).where(m.Producer.npn == "1234567"))).scalar()
    # each transaction's status, in bulk chunks for the bulk actions (issue 17), single for a single change
    assert sum(e.entity_count() for e in status_events) >= 20
    assert any(isinstance(e, TransactionStatusesChanged) for e in status_events)
    assert raw_ssn and "123-45-6789" not in raw_ssn and "123456789" not in raw_ssn
