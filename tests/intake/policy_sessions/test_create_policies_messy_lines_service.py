"""Create Policies from messy statement lines (issue 7), through HTTP, the database and the real
broker: a business stays one organisation client (no individual named first "LLC"), a cancellation
line makes a cancelled policy, a formula-looking name is refused on its line while the rest is
created, and the preview says what each line will become."""

from __future__ import annotations

import uuid

from intake.models import Client, Individual, Policy, StatementLineRow
from sqlalchemy import select

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers

STATEMENT = (
    "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
    "CX-1,\"Chen & Sons, LLC\",NBS,01/01/2026,01/01/2027,CPKG,2000.00,10%,200.00\r\n"
    "CX-2,\"Roe, Jane\",XLC,03/01/2026,01/01/2027,AUTOP,-120.00,15%,-18.00\r\n"
    "CX-3,\"Park, Min\",REI,04/01/2026,01/01/2027,AUTOP,120.00,15%,18.00\r\n"
    "CX-4,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\",NBS,01/01/2026,01/01/2027,AUTOP,500.00,10%,50.00\r\n"
    "CX-5,Patel Family Trust,RWL,02/01/2026,02/01/2027,HOME,800.00,12%,96.00\r\n"
)


async def import_statement(client) -> str:
    await register_carriers(client, "Messy Mutual")
    files = {"file": ("messy.csv", STATEMENT.encode(), "text/csv")}
    r = await client.post("/api/statements", files=files, data={"carrier": "Messy Mutual"})
    assert r.status_code == 202, r.text
    body = await wait_imported(client, r.json()["id"])
    assert body["status"] == "imported" and body["unmatched"] == 5, body
    return body["id"]


async def test_messy_lines_make_the_records_their_codes_and_names_say(start_service, token_for, kafka) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        sid = await import_statement(client)

        # what will be created, before anything is
        page = await client.get(f"/statements/{sid}/create-policies")
        assert page.status_code == 200
        assert "organisation" in page.text and "person: Jane / Roe" in page.text
        assert "cancelled (transaction code XLC)" in page.text and "refused" in page.text

        # the dashboard used to send status "active" as the default: a code's status still wins
        req = {"idempotency_key": str(uuid.uuid4()), "defaults": {"status": "active"}}
        r = await client.post(f"/api/statements/{sid}/create-policies", json=req)
        assert r.status_code == 201, r.text
        assert (r.json()["count"], r.json()["refused"]) == (4, 1)

        lines = {x["policy_number"]: x for x in (await client.get(f"/api/statements/{sid}/lines")).json()["items"]}
        refused = lines["CX-4"]
        assert refused["match_status"] == "unmatched" and "formula" in refused["match_reason"]
        assert refused["insured_name"].startswith("=HYPERLINK")  # the line itself is kept as it came

    async with intake.runtime.db.session() as s:
        policies = {p.policy_number: p for p in (await s.execute(select(Policy))).scalars()}
        clients = {c.id: c for c in (await s.execute(select(Client))).scalars()}
        individuals = {i.client_id: i for i in (await s.execute(select(Individual))).scalars()}
    assert sorted(policies) == ["CX-1", "CX-2", "CX-3", "CX-5"]
    assert {n: p.status for n, p in policies.items()} == {
        "CX-1": "active", "CX-2": "cancelled", "CX-3": "active", "CX-5": "active"}
    assert not any(c.name.startswith(("=", "+", "-", "@")) for c in clients.values())

    chen = clients[policies["CX-1"].client_id]
    assert (chen.name, chen.kind) == ("Chen & Sons, LLC", "organisation")
    assert chen.id not in individuals  # an organisation is no individual: no first name "LLC"
    trust = clients[policies["CX-5"].client_id]
    assert trust.kind == "organisation" and trust.id not in individuals
    roe = clients[policies["CX-2"].client_id]
    assert roe.kind == "person"
    assert (individuals[roe.id].first_name, individuals[roe.id].last_name) == ("Jane", "Roe")
    # the return premium of a cancellation is not the policy's premium
    assert policies["CX-2"].estimated_premium is None
    assert policies["CX-1"].estimated_premium == 2000

    # the refused line, given a proper name, is created next time
    async with intake.as_user(token_for("clerk")) as client:
        line_no = refused["line_no"]
        r = await client.post(f"/api/statements/{sid}/create-policies", json={
            "idempotency_key": str(uuid.uuid4()), "overrides": {str(line_no): {"client_name": "Evil Example Inc"}}})
        assert r.status_code == 201, r.text
        assert (r.json()["count"], r.json()["refused"]) == (1, 0)
    async with intake.runtime.db.session() as s:
        line = (await s.execute(select(StatementLineRow).where(StatementLineRow.statement_id == sid,
                                                               StatementLineRow.line_no == line_no))).scalar_one()
        assert line.match_status == "matched"


async def test_only_refused_lines_create_nothing_and_say_why(start_service, token_for, kafka) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        sid = await import_statement(client)
        r = await client.post(f"/api/statements/{sid}/create-policies", json={
            "idempotency_key": str(uuid.uuid4()), "line_nos": [5]})
        assert r.status_code == 422 and "formula" in r.text and "line 5" in r.text, r.text
        assert (await client.get("/api/policy-sessions")).json()["total"] == 0


async def test_a_hand_made_policy_refuses_a_formula_client_name(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Messy Mutual")
        r = await client.post("/api/policies", json={"carrier": "Messy Mutual", "policy_number": "H-1",
                                                     "client_name": "=1+1"})
        assert r.status_code == 422 and "formula" in r.text
        r = await client.post("/api/policies", json={"carrier": "Messy Mutual", "policy_number": "H-2",
                                                     "client_name": "Chen & Sons, LLC"})
        assert r.status_code == 201
    async with intake.runtime.db.session() as s:
        (kind,) = (await s.execute(select(Client.kind))).one()
        assert kind == "organisation"
        assert (await s.execute(select(Individual))).first() is None
