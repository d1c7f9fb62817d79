"""Bulk appoint at the service: per-CoCode batches, JIT and submit flags, billing counts, the
assignment-required setting, duplicate submissions, the bulk-appoint file, the dashboard pages."""

from __future__ import annotations

import json

from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import func, select

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import CA_LH, FL_LH, TX_LH, add_producer


async def test_batches_flags_billing_assignment_and_duplicates(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await add_producer(rt, "5550001", [("TX", TX_LH, True), ("CA", CA_LH, False), ("FL", FL_LH, False)],
                       assignments=[("Life & Health", "CA", "60054")])
    client = svc.as_user(token_for("licensing"))

    # One request, two CoCodes, CA (non-JIT) and FL (JIT for 60054; 56030 appoints in neither).
    r = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5550001", "states": ["CA", "FL"], "loa_category": "Life & Health", "cocodes": ["60054", "56030"],
         "submit": False, "submitJustInTime": True}]})).json()
    txs = r["results"][0]["transactions"]
    assert len(r["batches"]) == 2 and len({t["batch_id"] for t in txs}) == 2  # one batch per CoCode
    by = {(t["state"], t["cocode"]): set() for t in txs}
    for t in txs:
        by[(t["state"], t["cocode"])].add((t["status"], t["eligibility_reason"]))
    assert by[("CA", "60054")] == {(v.READY, v.IN_GOOD_STANDING)}          # submit=false: held as Ready
    assert by[("FL", "60054")] == {(v.SUBMITTED, v.IN_GOOD_STANDING)}      # JIT + submitJustInTime: sent
    assert by[("CA", "56030")] == {(v.NOT_ELIGIBLE, v.company_not_in_state("Prairie Fraternal Benefit Society", "CA"))}
    assert by[("FL", "56030")] == {(v.NOT_ELIGIBLE, v.company_not_in_state("Prairie Fraternal Benefit Society", "FL"))}
    b30 = next(t["batch_id"] for t in txs if t["cocode"] == "56030")
    view = (await client.get(f"/api/transaction-batches/{b30}")).json()
    # nothing in it can ever be sent: closed, not left in draft
    assert (view["billable"], view["non_billable"], view["fee_estimate"], view["status"]) == (0, 7, "0.00", "closed")
    closed = (await client.post(f"/api/transaction-batches/{b30}/close-not-eligible")).json()
    assert closed["closed"] == 7
    assert (await client.get(f"/api/transaction-batches/{b30}")).json()["counts"] == {v.CLOSED: 7}
    b54 = next(t["batch_id"] for t in txs if t["cocode"] == "60054")
    view = (await client.get(f"/api/transaction-batches/{b54}")).json()
    assert (view["billable"], view["non_billable"], view["fee_ready_to_submit"], view["status"]) == \
        (7, 0, "96.00", "submitted")
    assert view["counts"] == {v.READY: 4, v.SUBMITTED: 3}

    # JIT held without submitJustInTime; released by submitting the batch with include_jit.
    r2 = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5550001", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["60054"], "submit": True}]})).json()
    assert {t["status"] for t in r2["results"][0]["transactions"]} == {v.SUBMITTED}
    await client.post("/api/reference-data/company_state_settings/rows", json=[
        {"cocode": "56030", "state": "FL", "appoints": "true", "jit": "true", "effective_date": "2024-01-01",
         "source": "test: 56030 starts appointing in FL"}])
    r3 = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5550001", "states": ["FL"], "loa_category": "Life & Health", "cocodes": ["56030"], "submit": True}]})).json()
    held = r3["results"][0]["transactions"]
    assert {t["status"] for t in held} == {v.JIT_HELD}  # submit only sends non-JIT ones
    bid = held[0]["batch_id"]
    refused = await client.post(f"/api/transaction-batches/{bid}/submit")
    assert refused.status_code == 409 and "also submit the JIT held transactions" in refused.text  # the page's words
    sent = (await client.post(f"/api/transaction-batches/{bid}/submit", json={"include_jit": True})).json()
    assert {t["status"] for t in sent["transactions"]} == {v.SUBMITTED}

    # Duplicate: the CA 60054 lines are Ready in one batch; a second identical request is refused.
    dup = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5550001", "states": ["CA"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})).json()
    assert dup["results"][0]["transactions"] == [] and len(dup["results"][0]["refused"]) == 4
    assert {x["reason"] for x in dup["results"][0]["refused"]} == {v.DUPLICATE_OPEN}  # Ready, not yet at NIPR
    async with rt.db.session() as s:
        out = rt.tables.outbox
        gateway_msgs = await s.scalar(select(func.count()).select_from(out).where(
            out.c.event_type == "appointments.transaction-batch.submitted"))
        pending = await s.scalar(select(func.count()).select_from(m.AppointmentTransaction).where(
            m.AppointmentTransaction.status == v.SUBMITTED))
    assert gateway_msgs == 3 and pending == 3 + 2 + 3
    async with rt.db.session() as s:
        raw = (await s.execute(select(out.c.payload).where(out.c.topic == "appointments.transactions.v1"))).scalars().all()
    from agency_common.contracts.registry import decode

    # bulk actions' statuses come in chunks (TransactionStatusesChanged), a single change alone
    events = [t for r in raw for p in [decode("appointments.transactions.v1", r.encode()).payload]
              for t in getattr(p, "transactions", [p])]
    assert {e.status for e in events} >= {v.READY, v.SUBMITTED, v.NOT_ELIGIBLE}
    assert all(e.billable == (e.fee is not None) for e in events if e.status != v.NOT_ELIGIBLE)

    # Appointment Producer Assignment Required: only CA/60054 is in this producer's assignment.
    assert (await svc.as_user(token_for("clerk")).post("/api/reference-data/settings/rows", json=[
        {"name": v.ASSIGNMENT_REQUIRED, "value": "true"}])).status_code == 403
    assert (await client.post("/api/reference-data/settings/rows", json=[
        {"name": v.ASSIGNMENT_REQUIRED, "value": "true"}])).status_code == 201
    pa = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5550001", "states": ["CA", "NY"], "loa_category": "Life & Health", "cocodes": ["60055"]},
        {"npn": "5550001", "states": ["NY"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})).json()
    assert {(x["state"], x["reason"]) for x in pa["results"][0]["refused"]} == \
        {("CA", v.OUTSIDE_ASSIGNMENT), ("NY", v.OUTSIDE_ASSIGNMENT)}
    assert pa["results"][1]["rejected"] and pa["results"][1]["rejection_reason"] == v.OUTSIDE_ASSIGNMENT


async def test_bulk_appoint_file_and_dashboard_pages(start_service, token_for) -> None:
    svc = await start_service("appointments")
    await add_producer(svc.runtime, "5550002", [("TX", TX_LH, True), ("CA", "Life", False)])
    client = svc.as_user(token_for("licensing"))
    call = {"requests": [{"npn": "5550002", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["24341"]}]}
    first = (await client.post("/api/appointments/bulk", json=call, headers={"Idempotency-Key": "k-1"})).json()
    repeat = (await client.post("/api/appointments/bulk", json=call, headers={"Idempotency-Key": "k-1"})).json()
    assert repeat["replayed"] and repeat["results"] == first["results"] and first["transactions"] == 2
    async with svc.runtime.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(m.AppointmentTransaction)) == 2
    content = csv_bytes("NPN,State(s),LOA Category,CoCode(s),Submit,Submit Just In Time",
                        "5550002,CA;TX,Life & Health,60054,false,false",
                        ",,,,,",
                        "5550002,CA; TX,Life & Health,,false,false",
                        "abc,CA,Life & Health,60054,,")
    r = await client.post("/api/appointments/bulk-file", files={"file": ("appoint.csv", content, "text/csv")})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["blank_rows"] == 1 and [e["line"] for e in out["row_errors"]] == [4, 5]
    assert any("no spaces" in e for e in out["row_errors"][0]["errors"])
    txs = out["results"][0]["transactions"]
    assert out["results"][0]["line"] == 2 and len(txs) == 6
    assert sum(t["billable"] for t in txs) == 3  # CA Life, TX two lines
    bad = await client.post("/api/appointments/bulk-file", files={"file": ("x.csv", b"foo,bar\n1,2\n", "text/csv")})
    assert bad.status_code == 422 and "missing columns" in bad.text
    admin = svc.as_user(token_for("admin"))
    batch_id = txs[0]["batch_id"]
    for path in ("/", "/producers", "/producers/5550002", "/onboarding", "/appoint", "/report", "/terminations",
                 "/reference", "/reference?kind=company_state_settings", "/reference?kind=companies",
                 f"/batches/{batch_id}"):
        page = await admin.get(path)
        assert page.status_code == 200, (path, page.text[:500])
    assert "Fee estimate" in (await admin.get(f"/batches/{batch_id}")).text
    synced = await admin.post("/producers/5550002/sync", follow_redirects=False)
    assert synced.status_code == 303
    assert "in force" in (await admin.get("/reference?kind=state_fees")).text
    form = await admin.post("/reference/state_fees", data={"state": "TX", "appointment_fee": "18.00",
                                                           "effective_date": "2099-01-01", "source": ""})
    assert form.status_code == 200 and "1 row(s) recorded" in form.text
    fees = (await admin.get("/api/reference-data/state_fees")).json()
    tx_rows = [f for f in fees if f["state"] == "TX"]
    assert [(f["appointment_fee"], f["in_force"], f["future"]) for f in tx_rows] == \
        [("16.00", True, False), ("18.00", False, True)]
    assert tx_rows[1]["source"].startswith("dashboard entry by admin")
    assert (await client.get("/api/reference-data/nope")).status_code == 404
    err = await admin.post("/api/reference-data/business_rules", files={"file": (
        "r.csv", b"state,loa_category,line_of_authority,active,effective_date,source\nTEX,L,Life,yes,2024-13-01,x\n",
        "text/csv")})
    assert err.status_code == 422 and len(err.json()["detail"]["errors"]) == 1


async def test_terminations_default_to_batches_for_review(start_service, token_for) -> None:
    from sqlalchemy import insert

    svc = await start_service("appointments")
    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": "5550003", "state": st, "line_of_authority": "Life", "cocode": "60054", "status": v.APPOINTED}
            for st in ("CA", "NY", "PA")])
    client = svc.as_user(token_for("licensing"))
    template = (await client.get("/api/termination-imports/template.csv")).text
    assert template.strip() == "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,For Cause"
    key = (await client.get("/api/termination-imports/termination-reason-key.csv")).text
    assert "TX,INADEQUATE_PRODUCTION,Lack of production,yes" in key
    content = csv_bytes("Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code",
                        "5550003,CA;NY,Life,60054,", "5550003,PA,Life,60054,")
    p = (await client.post("/api/termination-imports", files={"file": ("t.csv", content, "text/csv")})).json()
    # PA has no default code in the dev dataset: a blank code there is an error on the row
    assert p["valid_rows"] == 1 and p["rows"][1]["errors"] == [
        "no Termination Reason Code given and no default code for State: PA"]
    bad = (await client.get(f"/api/termination-imports/{p['id']}/invalid-rows.csv")).text.strip().splitlines()
    assert len(bad) == 2 and bad[1].startswith("3,5550003,PA,Life,60054,,")
    assert (await svc.as_user(token_for("clerk")).post(f"/api/termination-imports/{p['id']}/submit")).status_code == 403
    out = (await client.post(f"/api/termination-imports/{p['id']}/submit", json={"batch_size": 1})).json()
    assert out["immediate"] is False and [b["status"] for b in out["batches"]] == ["draft", "draft"]
    # the file says its batches wait for review: nothing went to NIPR yet
    page = (await svc.as_user(token_for("admin")).get(f"/terminations/{p['id']}")).text
    assert '<span class="badge">awaiting review</span>' in page
    again = await client.post(f"/api/termination-imports/{p['id']}/submit", json={"batch_size": 1})
    assert again.status_code == 409, again.text  # its transactions exist: never twice
    b = (await client.get(f"/api/transaction-batches/{out['batches'][0]['batch_id']}")).json()
    assert b["kind"] == "termination" and b["transactions"][0]["status"] == v.READY
    assert b["transactions"][0]["termination_reason_code"] == "VOLUNTARY_TERMINATION"  # CA and NY default
    async with svc.runtime.db.session() as s:
        out_t = svc.runtime.tables.outbox
        assert await s.scalar(select(func.count()).select_from(out_t).where(
            out_t.c.event_type == "appointments.transaction-batch.submitted")) == 0
    sent = (await client.post(f"/api/transaction-batches/{b['id']}/submit")).json()
    assert sent["status"] == "submitted"


async def test_for_cause_terminations_in_a_state_that_refuses_them_become_manual_tasks(start_service,
                                                                                      token_for) -> None:
    """DOMAIN-FACTS §1.3: Texas takes for-cause terminations in writing, not online. That is
    reference data (termination filing rules), and such a row becomes a task for the operator."""
    from sqlalchemy import insert

    svc = await start_service("appointments")
    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": "5550005", "state": st, "line_of_authority": line, "cocode": "60054", "status": v.APPOINTED}
            for st, line in (("TX", "Life Agent"), ("CA", "Life"), ("NY", "Life"))])
    client = svc.as_user(token_for("licensing"))
    rules = (await client.get("/api/reference-data/termination_filing")).json()
    assert [(r["state"], r["for_cause_electronic"], r["in_force"]) for r in rules] == [("TX", False, True)]
    content = csv_bytes("Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,For Cause",
                        "5550005,TX,Life Agent,60054,,Yes",   # for cause in TX: a manual task
                        "5550005,CA,Life,60054,,Y",           # for cause in CA: a Gateway transaction
                        "5550005,NY,Life,60054,,",            # not for cause
                        "5550006,NY,Life,60054,,maybe")
    p = (await client.post("/api/termination-imports", files={"file": ("t.csv", content, "text/csv")})).json()
    assert p["valid_rows"] == 3 and p["rows"][3]["errors"] == ["For Cause 'maybe' must be Yes or No (blank = No)"]
    assert [(r["transactions"], r["manual_tasks"]) for r in p["rows"][:3]] == [(0, 1), (1, 0), (1, 0)]
    page = await svc.as_user(token_for("admin")).get(f"/terminations/{p['id']}")
    assert "will become manual tasks" in page.text and "Submit 2 Transactions" in page.text
    out = (await client.post(f"/api/termination-imports/{p['id']}/submit", json={"immediate": True})).json()
    assert out["transactions"] == 2 and [(t["npn"], t["state"]) for t in out["manual_tasks"]] == [("5550005", "TX")]
    assert "Texas Department of Insurance" in out["manual_tasks"][0]["instructions"]
    async with svc.runtime.db.session() as s:
        T = m.AppointmentTransaction
        sent = dict((await s.execute(select(T.state, T.for_cause).where(T.kind == "termination"))).all())
        out_t = svc.runtime.tables.outbox
        gateway_msgs = (await s.execute(select(out_t.c.payload).where(
            out_t.c.event_type == "appointments.transaction-batch.submitted"))).scalars().all()
    assert sent == {"CA": True, "NY": False}  # nothing for TX goes to the Gateway
    assert gateway_msgs and all('"TX"' not in str(msg) for msg in gateway_msgs)
    handed = {t["state"]: t["for_cause"] for msg in gateway_msgs for t in json.loads(msg)["payload"]["transactions"]}
    assert handed == {"CA": True, "NY": False}  # the Gateway form carries the for-cause flag
    tasks = (await client.get("/api/manual-tasks")).json()
    assert [(t["state"], t["status"], t["termination_reason_code"]) for t in tasks] == \
        [("TX", "open", "INADEQUATE_PRODUCTION")]
    assert (await svc.as_user(token_for("clerk")).post(f"/api/manual-tasks/{tasks[0]['id']}/done")).status_code == 403
    done = (await client.post(f"/api/manual-tasks/{tasks[0]['id']}/done", json={"note": "letter to TDI sent"})).json()
    assert (done["status"], done["done_by"], done["note"]) == ("done", "licensing", "letter to TDI sent")
    assert (await client.get("/api/manual-tasks")).json() == []
    listing = await svc.as_user(token_for("admin")).get("/tasks?status=done")
    assert listing.status_code == 200 and "letter to TDI sent" in listing.text
    rules_page = await svc.as_user(token_for("admin")).get("/reference?kind=termination_filing")
    assert "tdi.texas.gov" in rules_page.text and "in force" in rules_page.text
    batch_page = await svc.as_user(token_for("admin")).get(f"/batches/{out['batches'][0]['batch_id']}")
    assert "for cause" in batch_page.text


async def test_agency_placeholder_npn_and_cocode_format_at_the_api(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("admin"))
    ok = await client.post("/api/reference-data/agencies/rows", json=[{"npn": "PENDING-1", "name": "New agency"}])
    assert ok.status_code == 201, ok.text
    assert "PENDING-1" in {a["npn"] for a in (await client.get("/api/reference-data/agencies")).json()}
    bad = await client.post("/api/reference-data/companies/rows", json=[{"name": "X", "cocodes": "6054"}])
    assert bad.status_code == 422 and "6054" in bad.text
    r = await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "0012345", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["6054"]}]})
    assert r.status_code == 422 and "is not a CoCode" in r.text
