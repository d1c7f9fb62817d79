"""intake's uploads (individuals, statements) share the platform's one reader (issue 13 item 14):
a quote left open is refused naming the line it opens on, never the rows after it merged into one
value; nothing of the file is kept."""

from __future__ import annotations

from intake.models import Individual, StatementLineRow
from sqlalchemy import func, select

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers

INDIVIDUALS = ("Individual ID,External ID,First Name,Last Name,State\r\n"
               ",crm-1,Ann,Alpha,TX\r\n"
               ',crm-2,"Bob,Beta,TX\r\n'
               ',crm-3,Cy,"Gamma, Jr",TX\r\n'
               ",crm-4,Di,Delta,TX\r\n")
STATEMENT = ("Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"
             "Q-1,Jane Roe,NBS,01/15/2026,01/15/2027,AUTOP,100.00,15%,15.00\r\n"
             'Q-2,"Smith, John,NBS,01/15/2026,01/15/2027,AUTOP,200.00,15%,30.00\r\n'
             'Q-3,"Lee, Ann",NBS,01/15/2026,01/15/2027,AUTOP,300.00,15%,45.00\r\n')


async def count(runtime, model) -> int:
    async with runtime.db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_an_unclosed_quote_refuses_an_individuals_file_naming_its_line(start_service, token_for) -> None:
    svc = await start_service("intake")
    client = svc.as_user(token_for("sales"))
    r = await client.post("/api/individuals/import", files={"file": ("people.csv", INDIVIDUALS.encode(), "text/csv")})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("line 3: a quoted value opened on this line is not closed"), r.text
    assert await count(svc.runtime, Individual) == 0


async def test_an_unclosed_quote_refuses_a_statement_naming_its_line(start_service, token_for, kafka) -> None:
    svc = await start_service("intake")
    async with svc.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Quote Mutual")
        r = await client.post("/api/statements", data={"carrier": "Quote Mutual"},
                              files={"file": ("q.csv", STATEMENT.encode("cp1252"), "text/csv")})
        assert r.status_code == 202, r.text
        body = await wait_imported(client, r.json()["id"])
    assert body["status"] == "failed", body
    assert body["error"].startswith("line 3: a quoted value opened on this line is not closed"), body
    assert await count(svc.runtime, StatementLineRow) == 0
