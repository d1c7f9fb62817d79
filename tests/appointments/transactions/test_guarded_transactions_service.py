"""Every transaction goes through the eligibility engine (appointments issue, items 9-13).

Nothing unchecked reaches NIPR (9); a repeated request creates nothing twice and names what it
matches, and a batch that can never move closes by itself (10); a later request releases held
transactions, and transactions close with who and why, one or a list, also out of a review batch
(11); a for-cause termination filed by hand ends the appointment, and a termination file follows
its batches to completed (12); a state with no gateway line leaves a Not Eligible transaction on
record (13)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import appointments
from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import func, select, update

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import CA_LH, FL_LH, TX_LH, add_producer
from tests.support.inprocess import eventually

SUMMIT = "Summit Mutual Life Insurance Company"
TERMINATE_HEADER = "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,For Cause"


async def sent_to_gateway(rt) -> list[dict]:
    """The transactions handed to the NIPR gateway (the outbox's batch-submitted events)."""
    out = rt.tables.outbox
    async with rt.db.session() as s:
        payloads = (await s.execute(select(out.c.payload).where(
            out.c.event_type == "appointments.transaction-batch.submitted"))).scalars().all()
    return [t for p in payloads for t in json.loads(p)["payload"]["transactions"]]


async def count(rt, model) -> int:
    async with rt.db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def appointed(rt, npn: str, *lines: tuple[str, str, str]) -> None:
    """Carrier appointments NIPR confirmed, straight in the database: [(state, line, cocode)]."""
    from sqlalchemy import insert

    async with rt.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": npn, "state": st, "line_of_authority": line, "cocode": cocode, "status": v.APPOINTED}
            for st, line, cocode in lines])


async def upload_terminations(client, *rows: str) -> dict:
    r = await client.post("/api/termination-imports", files={"file": ("t.csv", csv_bytes(TERMINATE_HEADER, *rows),
                                                                      "text/csv")})
    assert r.status_code == 201, r.text
    return r.json()


# -- item 9 ---------------------------------------------------------------------------------------------
async def test_garbage_is_refused_in_words_and_nothing_reaches_nipr(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    client = svc.as_user(token_for("licensing"))
    # the route that created a billable transaction for anything and sent it to NIPR is gone
    garbage = {"cocode": "60054", "transactions": [
        {"npn": "9999999", "state": "ZZ", "line_of_authority": "Anything at all"}]}
    assert (await client.post("/api/transaction-batches", json=garbage)).status_code == 405

    def req(npn="9999999", states=("TX",), loa="Life & Health") -> dict:
        return {"requests": [{"npn": npn, "states": list(states), "loa_category": loa, "cocodes": ["60054"],
                              "submit": True, "submitJustInTime": True}]}

    zz = await client.post("/api/appointments/bulk", json=req(states=("ZZ",)))
    assert zz.status_code == 422 and "'ZZ' is not a US state code" in zz.text, zz.text
    unknown = (await client.post("/api/appointments/bulk", json=req())).json()["results"][0]
    assert (unknown["rejection_reason"], unknown["transactions"]) == (v.NPN_NOT_FOUND, [])
    await add_producer(rt, "5560001", [("TX", TX_LH, True)])
    line = (await client.post("/api/appointments/bulk", json=req("5560001", loa="Anything at all"))).json()
    assert line["results"][0]["rejection_reason"] == v.unsupported_line("Anything at all")
    assert line["transactions"] == 0 and line["batches"] == []

    # the bulk-appoint file and the dashboard form: the same refusals, in words, on the row or the page
    f = (await client.post("/api/appointments/bulk-file", files={"file": ("a.csv", csv_bytes(
        "NPN,States,LOA Category,CoCodes,Submit", "9999999,ZZ,Anything at all,60054,true",
        "9999999,TX,Life & Health,60054,true"), "text/csv")})).json()
    assert f["row_errors"] == [{"line": 2, "errors": [
        "States: 'ZZ' is not a US state code (two letters: one of the 50 states, DC, GU, PR or VI)"]}]
    assert f["results"][0]["rejection_reason"] == v.NPN_NOT_FOUND and f["transactions"] == 0
    admin = svc.as_user(token_for("admin"))
    page = await admin.post("/appoint", data={"npn": "9999999", "states": "ZZ", "loa_category": "Anything at all",
                                              "cocodes": "60054", "submit": "1"})
    assert page.status_code == 200 and "is not a US state code" in page.text

    # a termination file: garbage rows are errors in words, nothing to submit
    t = await upload_terminations(client, "9999999,ZZ,Anything at all,60054,,", "9999999,TX,Anything at all,60054,,",
                                  "5560001,TX,Anything at all,60054,,")
    errors = [r["errors"] for r in t["rows"]]
    assert any("'ZZ' is not a US state code" in e for e in errors[0])
    assert errors[1] == ["no Appointed appointment for NPN 9999999, State: TX, Anything at all, CoCode 60054"]
    assert t["valid_rows"] == 0

    assert await count(rt, m.AppointmentTransaction) == 0 and await count(rt, m.TransactionBatch) == 0
    assert await sent_to_gateway(rt) == []


async def test_termination_submit_judges_every_row_again(start_service, token_for) -> None:
    """A file is judged when read and again when submitted: what changed in between is refused."""
    svc = await start_service("appointments")
    rt = svc.runtime
    await appointed(rt, "5560002", ("CA", "Life", "60054"), ("NY", "Life", "60054"))
    client = svc.as_user(token_for("licensing"))
    first = await upload_terminations(client, "5560002,CA,life,60054,,")
    second = await upload_terminations(client, "5560002,CA,Life,60054,,")  # the same, before the first is submitted
    third = await upload_terminations(client, "5560002,NY,Life,60054,,")
    assert (first["valid_rows"], second["valid_rows"], third["valid_rows"]) == (1, 1, 1)

    made = (await client.post(f"/api/termination-imports/{first['id']}/submit")).json()
    assert made["transactions"] == 1 and made["refused"] == []
    tid = (await client.get(f"/api/transaction-batches/{made['batches'][0]['batch_id']}")).json()["transactions"][0]
    assert tid["line_of_authority"] == "Life"  # as the appointment records it, not as typed

    again = (await client.post(f"/api/termination-imports/{second['id']}/submit")).json()
    assert again["transactions"] == 0 and again["batches"] == []
    assert [(r["line"], r["reason"], [x["id"] for x in r["matches"]]) for r in again["refused"]] == \
        [(2, v.termination_already_open("5560002", "CA", "Life", "60054"), [tid["id"]])]
    page = await svc.as_user(token_for("admin")).get(f"/terminations/{second['id']}")
    assert "Refused when submitted: line 2, CA: a termination for NPN 5560002 in CA" in page.text

    async with rt.db.transaction() as s:  # NIPR answered another termination of NY meanwhile
        await s.execute(update(m.CarrierAppointment).where(m.CarrierAppointment.state == "NY").values(
            status=v.TERMINATED))
    gone = (await client.post(f"/api/termination-imports/{third['id']}/submit", json={"immediate": True})).json()
    assert gone["transactions"] == 0 and [r["reason"] for r in gone["refused"]] == [
        "no Appointed appointment for NPN 5560002, State: NY, Life, CoCode 60054"]
    assert await count(rt, m.AppointmentTransaction) == 1 and await sent_to_gateway(rt) == []


def test_only_the_guarded_module_writes_transactions() -> None:
    """``transactions.py`` is the single place that inserts into appointment_transactions: another
    module that builds, inserts or adds one (through the model, an alias of it, its table name or
    raw SQL) fails here."""
    src = Path(appointments.__file__).parent
    offenders = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel == "transactions/transactions.py" or "/migrations/" in f"/{rel}":
            continue
        tree = ast.parse(path.read_text())
        aliases = {"AppointmentTransaction"}
        for node in ast.walk(tree):  # T = m.AppointmentTransaction, or T, A = m.AppointmentTransaction, ...
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple)
                             and isinstance(node.value, ast.Tuple) else [(target, node.value)])
                    aliases |= {t.id for t, val in pairs if isinstance(t, ast.Name)
                                and ast.unparse(val).split(".")[-1] == "AppointmentTransaction"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                words = " ".join(ast.unparse(a) for a in node.args).replace(".", " ").replace("(", " ").split()
                if name.split(".")[-1] in aliases:
                    offenders.append(f"{rel}:{node.lineno} builds {name}(...)")
                elif name.split(".")[-1] in ("insert", "insert_ignoring_conflicts", "add", "add_all", "merge") \
                        and aliases & set(words):
                    offenders.append(f"{rel}:{node.lineno} {name}({' '.join(words)})")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = " ".join(node.value.lower().split())
                if "insert into appointment_transactions" in text or (
                        text == "appointment_transactions" and rel != "models/transactions.py"):
                    offenders.append(f"{rel}:{node.lineno} names the table: {node.value!r}")
    assert offenders == []


# -- item 10 --------------------------------------------------------------------------------------------
async def test_a_repeated_request_creates_nothing_and_names_what_it_matches(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await add_producer(rt, "5560003", [("TX", TX_LH, True), ("CA", "Life", False)])
    client = svc.as_user(token_for("licensing"))
    # 60054 appoints in CA (Life eligible, 3 lines Not Eligible); 56030 does not (4 Not Eligible)
    body = {"requests": [{"npn": "5560003", "states": ["CA"], "loa_category": "Life & Health",
                          "cocodes": ["60054", "56030"]}]}
    first = (await client.post("/api/appointments/bulk", json=body)).json()
    created = {t["id"]: t for t in first["results"][0]["transactions"]}
    assert len(created) == 8 and sum(t["billable"] for t in created.values()) == 1
    batch_of = {b["cocode"]: b["batch_id"] for b in first["batches"]}
    never = (await client.get(f"/api/transaction-batches/{batch_of['56030']}")).json()
    # only Not Eligible transactions: it can never move, so it does not wait in draft for ever
    assert (never["status"], never["closed_reason"]) == ("closed", v.BATCH_NOT_ELIGIBLE)
    assert (await client.get(f"/api/transaction-batches/{batch_of['60054']}")).json()["status"] == "draft"

    again = (await client.post("/api/appointments/bulk", json=body)).json()
    res = again["results"][0]
    assert (again["transactions"], again["batches"], res["transactions"], res["identical"]) == (0, [], [], True)
    matched = {x["id"]: x for r in res["refused"] for x in r["matches"]}
    assert set(matched) == set(created)  # every transaction it is identical to, by id
    assert {(x["status"], x["batch_id"]) for x in matched.values()} == \
        {(t["status"], t["batch_id"]) for t in created.values()}
    assert {r["reason"] for r in res["refused"]} == {v.DUPLICATE_OPEN, v.DUPLICATE_NOT_ELIGIBLE}
    assert await count(rt, m.AppointmentTransaction) == 8 and await count(rt, m.TransactionBatch) == 2
    page = await svc.as_user(token_for("admin")).post("/appoint", data={
        "npn": "5560003", "states": "CA", "loa_category": "Life & Health", "cocodes": "60054;56030"})
    assert "nothing was created" in page.text and f"/batches/{batch_of['56030']}" in page.text

    # what changed is no repeat: a line the producer is now licensed for is created, nothing else
    async with rt.db.transaction() as s:
        await s.execute(update(m.License).where(m.License.npn == "5560003", m.License.state == "CA").values(
            lines_of_authority="Life;Accident & Health or Sickness (including Disability)"))
    third = (await client.post("/api/appointments/bulk", json=body)).json()
    assert [(t["line_of_authority"], t["cocode"], t["status"]) for t in third["results"][0]["transactions"]] == \
        [("Accident & Health or Sickness (including Disability)", "60054", v.READY)]


# -- item 11 --------------------------------------------------------------------------------------------
async def test_a_later_request_releases_held_transactions_and_transactions_close_with_a_reason(
        start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await add_producer(rt, "5560004", [("TX", TX_LH, True), ("FL", FL_LH, False), ("CA", "Life", False)])
    client = svc.as_user(token_for("licensing"))
    fl = {"npn": "5560004", "states": ["FL"], "loa_category": "Life & Health", "cocodes": ["60054"]}
    held = (await client.post("/api/appointments/bulk", json={"requests": [fl]})).json()["results"][0]["transactions"]
    assert {t["status"] for t in held} == {v.JIT_HELD} and len(held) == 3  # FL is just-in-time for 60054

    later = (await client.post("/api/appointments/bulk", json={"requests": [fl | {"submitJustInTime": True}]})).json()
    res = later["results"][0]
    assert later["transactions"] == 0 and res["refused"] == []
    assert {(x["id"], x["status"], x["batch_id"]) for x in res["released"]} == \
        {(t["id"], v.SUBMITTED, t["batch_id"]) for t in held}
    assert sorted(t["transaction_id"] for t in await sent_to_gateway(rt)) == sorted(t["id"] for t in held)
    batch = (await client.get(f"/api/transaction-batches/{held[0]['batch_id']}")).json()
    assert (batch["status"], batch["submitted_by"], batch["counts"]) == ("submitted", "licensing", {v.SUBMITTED: 3})

    ca = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5560004", "states": ["CA"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})).json()
    ca_txs = ca["results"][0]["transactions"]
    ready = next(t for t in ca_txs if t["status"] == v.READY)
    not_eligible = [t for t in ca_txs if t["status"] == v.NOT_ELIGIBLE]
    ask = {"transaction_ids": [ready["id"], not_eligible[0]["id"], held[0]["id"], "nope"],
           "reason": "producer left the agency"}
    assert (await svc.as_user(token_for("clerk")).post("/api/transactions/close", json=ask)).status_code == 403
    for bad in ({"transaction_ids": [ready["id"]]}, {"transaction_ids": [ready["id"]], "reason": "  "},
                {"transaction_ids": [], "reason": "x"}):
        assert (await client.post("/api/transactions/close", json=bad)).status_code == 422
    out = (await client.post("/api/transactions/close", json=ask, headers={"Idempotency-Key": "close-1"})).json()
    assert out["closed"] == [ready["id"], not_eligible[0]["id"]]
    clicked_twice = await client.post("/api/transactions/close", json=ask, headers={"Idempotency-Key": "close-1"})
    assert clicked_twice.json() == out | {"replayed": True}  # the first answer again, nothing done twice
    assert [(r["id"], r["reason"]) for r in out["refused"]] == [
        (held[0]["id"], "pending at NIPR: it can be closed once NIPR has answered"), ("nope", "no such transaction")]
    view = (await client.get(f"/api/transaction-batches/{ready['batch_id']}")).json()
    closed = next(t for t in view["transactions"] if t["id"] == ready["id"])
    assert (closed["status"], closed["closed_by"], closed["close_reason"], closed["billable"], closed["fee"]) == \
        (v.CLOSED, "licensing", "producer left the agency", False, None)  # never sent: not billed
    assert (view["billable"], view["fee_estimate"]) == (0, "0.00")
    assert (view["status"], view["closed_reason"]) == ("closed", v.BATCH_NOTHING_LEFT)
    repeat = (await client.post("/api/transactions/close", json=ask)).json()
    assert repeat["closed"] == [] and repeat["refused"][0]["reason"] == "already closed"
    assert len(await sent_to_gateway(rt)) == 3


async def test_a_review_batch_drops_a_row_before_it_is_submitted(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await appointed(rt, "5560005", ("CA", "Life", "60054"), ("NY", "Life", "60054"))
    client = svc.as_user(token_for("licensing"))
    imp = await upload_terminations(client, "5560005,CA;NY,Life,60054,,")
    bid = (await client.post(f"/api/termination-imports/{imp['id']}/submit")).json()["batches"][0]["batch_id"]
    rows = {t["state"]: t for t in (await client.get(f"/api/transaction-batches/{bid}")).json()["transactions"]}
    admin = svc.as_user(token_for("admin"))
    page = await admin.get(f"/batches/{bid}")
    assert f'value="{rows["NY"]["id"]}"' in page.text and "Close selected" in page.text
    asked = await admin.post(f"/batches/{bid}/close", data={"transaction_id": rows["NY"]["id"]})
    assert "say why" in asked.text  # no reason: nothing closed
    dropped = await admin.post(f"/batches/{bid}/close", data={"transaction_id": rows["NY"]["id"],
                                                              "reason": "producer stays in NY"}, follow_redirects=True)
    assert dropped.status_code == 200 and "by admin: producer stays in NY" in dropped.text
    sent = (await client.post(f"/api/transaction-batches/{bid}/submit")).json()
    assert {t["state"]: t["status"] for t in sent["transactions"]} == {"CA": v.SUBMITTED, "NY": v.CLOSED}
    assert [(t["state"], t["kind"]) for t in await sent_to_gateway(rt)] == [("CA", "termination")]


# -- item 12 --------------------------------------------------------------------------------------------
async def test_a_termination_file_follows_its_batches_and_a_manual_filing_ends_the_appointment(
        start_service, gateway, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await appointed(rt, "5560006", ("TX", "Life Agent", "60054"), ("CA", "Life", "60054"), ("NY", "Life", "60054"))
    client = svc.as_user(token_for("licensing"))
    imp = await upload_terminations(client, "5560006,TX,Life Agent,60054,,Yes", "5560006,CA;NY,Life,60054,,")
    out = (await client.post(f"/api/termination-imports/{imp['id']}/submit", json={"batch_size": 1})).json()
    assert len(out["batches"]) == 2 and len(out["manual_tasks"]) == 1  # TX for cause: filed in writing

    async def status() -> str:
        return (await client.get(f"/api/termination-imports/{imp['id']}")).json()["status"]

    assert await status() == "awaiting review"
    first, second = (b["batch_id"] for b in out["batches"])
    assert (await client.post(f"/api/transaction-batches/{first}/submit")).status_code == 200
    assert await status() == "awaiting review"  # the other batch still waits for review
    row = (await client.get(f"/api/transaction-batches/{second}")).json()["transactions"][0]
    await client.post("/api/transactions/close", json={"transaction_ids": [row["id"]], "reason": "not this one"})
    assert (await client.get(f"/api/transaction-batches/{second}")).json()["status"] == "closed"

    async def answered() -> bool:
        return (await client.get(f"/api/transaction-batches/{first}")).json()["status"] == "completed"

    await eventually(answered, timeout=45, message="NIPR answered the submitted termination batch")
    assert await status() == "awaiting manual tasks"
    task = (await client.get("/api/manual-tasks")).json()[0]
    done = await client.post(f"/api/manual-tasks/{task['id']}/done", json={"note": "letter to TDI sent"})
    assert done.status_code == 200
    assert await status() == "completed"
    page = await svc.as_user(token_for("admin")).get(f"/terminations/{imp['id']}")
    assert '<span class="badge">completed</span>' in page.text
    report = {(r["state"], r["status"]) for r in (await client.get("/api/appointments",
                                                                   params={"cocode": "60054"})).json()["items"]}
    assert report == {("TX", v.TERMINATED), ("CA", v.TERMINATED), ("NY", v.APPOINTED)}
    async with rt.db.session() as s:
        tx_row = await s.scalar(select(m.CarrierAppointment).where(m.CarrierAppointment.state == "TX"))
    assert tx_row.termination_reason_code == "INADEQUATE_PRODUCTION" and tx_row.terminated_at is not None
    assert all(t["state"] != "TX" for t in await sent_to_gateway(rt))


# -- item 13 --------------------------------------------------------------------------------------------
async def test_a_state_without_gateway_lines_leaves_a_not_eligible_transaction_on_record(start_service,
                                                                                       token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await add_producer(rt, "5560007", [("TX", TX_LH, True), ("CA", CA_LH, False)])
    client = svc.as_user(token_for("licensing"))
    r = (await client.post("/api/appointments/bulk", json={"requests": [
        {"npn": "5560007", "states": ["WY", "CA"], "loa_category": "Life & Health",
         "cocodes": ["60054", "99999", "24341"], "submit": True}]})).json()
    res = r["results"][0]
    assert res["rejected"] is False and res["refused"] == []
    wy = {t["cocode"]: (t["line_of_authority"], t["status"], t["eligibility_reason"], t["billable"], t["fee"])
          for t in res["transactions"] if t["state"] == "WY"}
    assert wy == {
        "60054": ("Life & Health", v.NOT_ELIGIBLE, f"{SUMMIT} does not appoint in the requested State: WY", False, None),
        "99999": ("Life & Health", v.NOT_ELIGIBLE, v.COCODE_NOT_FOUND, False, None),
        "24341": ("Life & Health", v.NOT_ELIGIBLE, v.COMPANY_NO_LOAS, False, None)}
    async with rt.db.session() as s:
        T = m.AppointmentTransaction
        stored = (await s.execute(select(T.eligibility_reason, T.billable).where(T.state == "WY", T.cocode == "60054"))
                  ).all()
    assert stored == [(f"{SUMMIT} does not appoint in the requested State: WY", False)]  # the reason on record
    assert {t["state"] for t in await sent_to_gateway(rt)} == {"CA"}  # WY never sent, though submit was asked
