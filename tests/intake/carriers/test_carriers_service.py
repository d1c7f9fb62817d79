"""The carrier registry (issue 13, item 2): a carrier is chosen from a registry, a typed name finds it
case- and space-insensitively (by name or alias), and an unknown carrier is never created by accident."""

from __future__ import annotations

import pathlib
import uuid

from agency_common.contracts.upstream import (
    CarrierStatementCompleted,
    CarrierStatementRows,
    CarrierStatementStarted,
)
from agency_common.db.engine import make_engine
from agency_common.db.migrate import alembic_config
from alembic import command
from intake.carriers.rules import carrier_key, closest, distinct_names, naic_problem
from sqlalchemy import text

from tests.intake.statements.test_feed_events_inprocess import publish
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

STATEMENT = (b"Policy Number,Insured Name,Premium,Commission\r\n"
             b"ACM-1,Ann Able,1000.00,100.00\r\nACM-2,Bob Baker,500.00,50.00\r\n")


# -- rules -------------------------------------------------------------------------------------------
def test_a_typed_name_is_compared_without_case_or_extra_spaces() -> None:
    assert carrier_key("  acme   MUTUAL ") == carrier_key("Acme Mutual") == "acme mutual"
    assert carrier_key("Acme Mutual") != carrier_key("Acme Mutual Insurance")
    assert distinct_names(["Acme", " acme ", "", "ACME  Ins", "Acme Ins"]) == ["Acme", "ACME Ins"]
    assert closest("Acme Mutul", ["Acme Mutual", "Beta Life", "Acme Casualty"])[0] == "Acme Mutual"
    assert naic_problem("01234") is None and naic_problem(None) is None
    assert "5 digits" in naic_problem("1234") and "5 digits" in naic_problem("12345X")


# -- the registry ------------------------------------------------------------------------------------
async def test_register_find_and_edit_carriers(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk, intake.as_user(token_for("sales")) as sales, \
            intake.as_user(token_for("viewer")) as viewer:
        r = await clerk.post("/api/carriers", json={
            "name": " Acme   Mutual ", "naic_code": "01234", "aliases": ["ACME Mutual Ins Co", "acme mutual"],
            "subordinates": ["Acme Casualty"], "addresses": ["1 Main St\nSpringfield, IL 62701"]})
        assert r.status_code == 201, r.text
        acme = r.json()
        assert (acme["name"], acme["naic_code"], acme["aliases"], acme["created_by"]) == (
            "Acme Mutual", "01234", ["ACME Mutual Ins Co"], "clerk")  # its own name is not an alias
        # a name (or alias) that already means a carrier is refused, in words
        for clash in ({"name": "acme mutual"}, {"name": "ACME MUTUAL INS CO"},
                      {"name": "Beta Life", "aliases": ["Acme  Mutual"]}):
            r = await clerk.post("/api/carriers", json=clash)
            assert r.status_code == 409 and "Acme Mutual" in r.json()["detail"], r.text
        assert (await clerk.post("/api/carriers", json={"name": "Beta", "naic_code": "01234"})).status_code == 409
        bad = await clerk.post("/api/carriers", json={"name": "Gamma", "naic_code": "12-34"})
        assert bad.status_code == 422 and "5 digits" in bad.json()["detail"]
        assert (await clerk.post("/api/carriers", json={"name": "   "})).status_code == 422
        # registering needs carriers:edit; reading needs carriers:view
        assert (await sales.post("/api/carriers", json={"name": "Delta"})).status_code == 403
        assert (await viewer.get("/api/carriers")).status_code == 403
        await register_carriers(clerk, "Beta Life", "Zeta Re")

        listed = (await sales.get("/api/carriers", params={"limit": 2})).json()
        assert listed["total"] == 3 and [c["name"] for c in listed["items"]] == ["Acme Mutual", "Beta Life"]
        assert [c["name"] for c in (await sales.get("/api/carriers", params={"q": "ins co"})).json()["items"]] == [
            "Acme Mutual"]
        for typed in ("  acme MUTUAL", "Acme Mutual Ins Co"):
            found = await sales.get("/api/carriers/resolve", params={"name": typed})
            assert found.status_code == 200 and found.json()["id"] == acme["id"]
        unknown = await sales.get("/api/carriers/resolve", params={"name": "Acme Mutul"})
        assert unknown.status_code == 404 and unknown.json()["detail"]["suggestions"] == ["Acme Mutual"]

        # edits: aliases, code, addresses, active; the version guards against a stale form
        r = await clerk.patch(f"/api/carriers/{acme['id']}", json={"aliases": ["AMIC"], "version": 1})
        assert r.status_code == 200 and r.json()["aliases"] == ["AMIC"] and r.json()["version"] == 2
        stale = await clerk.patch(f"/api/carriers/{acme['id']}", json={"naic_code": "54321", "version": 1})
        assert stale.status_code == 409 and "reload" in stale.json()["detail"]
        assert (await sales.get("/api/carriers/resolve", params={"name": "amic"})).json()["name"] == "Acme Mutual"

        # every registration and change is an event for the other services
        async with intake.runtime.db.session() as s:
            types = list((await s.execute(text(
                "SELECT event_type FROM outbox WHERE topic = 'intake.carriers.v1' ORDER BY id"))).scalars())
        assert types == ["intake.carrier.registered"] * 3 + ["intake.carrier.updated"]


async def test_the_same_file_under_another_spelling_is_the_same_carrier(start_service, token_for) -> None:
    """The defect: the file under 'acme mutual' escaped the duplicate check, ignored the carrier's profile
    and matched nothing; an unknown spelling is refused with the closest names; a bulk update says why."""
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme Mutual")
        for n in ("ACM-1", "ACM-2"):
            r = await clerk.post("/api/policies", json={"carrier": "ACME mutual", "policy_number": n,
                                                        "client_name": "Ann Able"})
            assert r.status_code == 201 and r.json()["carrier"] == "Acme Mutual", r.text
        dup = await clerk.post("/api/policies", json={"carrier": "acme  mutual", "policy_number": "ACM-1",
                                                      "client_name": "Ann Able"})
        assert dup.status_code == 409
        # the carrier's profile names its columns; it applies under any spelling
        r = await clerk.put("/api/carrier-profiles/acme%20mutual", json={"columns": {
            "policy_number": "Policy Number", "insured_name": "Insured Name"}})
        assert r.status_code == 200, r.text
        first = await clerk.post("/api/statements", data={"carrier": "Acme Mutual"},
                                 files={"file": ("acme.csv", STATEMENT, "text/csv")})
        assert first.status_code == 202, first.text

        async def imported(sid: str):
            st = (await clerk.get(f"/api/statements/{sid}")).json()
            return st if st["status"] in ("imported", "published", "failed") else None
        st = await eventually(lambda: imported(first.json()["id"]), message="statement imported")
        assert (st["status"], st["matched"], st["unmatched"]) in (("imported", 2, 0), ("published", 2, 0)), st

        again = await clerk.post("/api/statements", data={"carrier": "acme mutual"},
                                 files={"file": ("acme.csv", STATEMENT, "text/csv")})
        assert again.status_code == 409 and again.json()["first_import_id"] == first.json()["id"], again.text
        unknown = await clerk.post("/api/statements", data={"carrier": "Acme Mutul"},
                                   files={"file": ("acme.csv", STATEMENT, "text/csv")})
        assert unknown.status_code == 422 and "Did you mean 'Acme Mutual'" in unknown.json()["detail"]
        assert (await clerk.get("/api/statements")).json()["total"] == 1  # nothing stored for the refused ones

        body = {"filter": {"carrier": "ACME MUTUAL"}, "changes": {"line_of_business": "Auto"}}
        upd = await clerk.post("/api/policies/update-by-carrier", json=body)
        assert upd.status_code == 200 and upd.json()["count"] == 2 and upd.json()["carrier"] == "Acme Mutual"
        wrong = await clerk.post("/api/policies/update-by-carrier", json={**body, "filter": {"carrier": "Acme Mut"}})
        assert wrong.status_code == 422 and "unknown carrier" in wrong.json()["detail"]
        none = await clerk.post("/api/policies/update-by-carrier", json={
            **body, "filter": {"carrier": "Acme Mutual", "policy_number": "NOPE"}})
        assert none.status_code == 422 and "nothing was changed" in none.json()["detail"]
        by_filter = (await clerk.get("/api/policies", params={"carrier": " acme mutual "})).json()
        assert by_filter["total"] == 2


async def test_a_feed_with_an_unknown_carrier_keeps_its_lines_until_the_carrier_is_known(
        start_service, token_for) -> None:
    intake = await start_service("intake", auto_publish_when_matched=False)
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme Mutual")
        await clerk.post("/api/policies", json={"carrier": "Acme Mutual", "policy_number": "ACM-1",
                                                "client_name": "Ann Able"})
        feed = str(uuid.uuid4())
        rt = intake.runtime
        await publish(rt, CarrierStatementStarted(feed_statement_id=feed, carrier="ACME MUT. (feed)",
                                                  columns=["Policy Number", "Insured Name", "Premium"]))
        await publish(rt, CarrierStatementRows(feed_statement_id=feed, chunk_no=1, first_line_no=2,
                                               rows=[["ACM-1", "Ann Able", "10.00"], ["ACM-9", "Zed", "5.00"]]))
        await publish(rt, CarrierStatementCompleted(feed_statement_id=feed, chunk_count=1, row_count=2))

        async def imported():
            items = (await clerk.get("/api/statements")).json()["items"]
            return items[0] if items and items[0]["status"] == "imported" else None
        st = await eventually(imported, message="feed statement imported")
        assert st["carrier"] == "ACME MUT. (feed)" and "unknown carrier" in st["error"], st
        assert (st["total"], st["unmatched"]) == (2, 2)  # every line kept
        refused = await clerk.post(f"/api/statements/{st['id']}/create-policies",
                                   json={"idempotency_key": "cp-unknown"})
        assert refused.status_code == 422 and "unknown carrier" in refused.json()["detail"]
        assert (await clerk.post(f"/api/statements/{st['id']}/publish", json={"exclude_unmatched": True})
                ).status_code == 422

        acme = (await clerk.get("/api/carriers/resolve", params={"name": "Acme Mutual"})).json()
        r = await clerk.patch(f"/api/carriers/{acme['id']}", json={"aliases": ["Acme Mut. (feed)"]})
        assert r.status_code == 200
        rematched = (await clerk.post(f"/api/statements/{st['id']}/rematch")).json()
        assert (rematched["carrier"], rematched["error"], rematched["matched"], rematched["unmatched"]) == (
            "Acme Mutual", None, 1, 1)


async def test_dashboard_forms_pick_carriers_from_the_registry(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        empty = await clerk.get("/statements")
        assert "No carrier is registered yet" in empty.text
        r = await clerk.post("/carriers", data={"name": "Acme Mutual", "naic_code": "1234", "aliases": "AMIC"})
        assert r.status_code == 422 and "5 digits" in r.text and 'value="Acme Mutual"' in r.text  # input kept
        r = await clerk.post("/carriers", data={"name": "Acme Mutual", "naic_code": "01234",
                                                "aliases": "AMIC\nAcme Mutual Ins", "addresses": "1 Main St\nTown\n\nPO Box 9"})
        assert r.status_code == 303
        page = await clerk.get(r.headers["location"])
        assert "Carrier registered." in page.text and "PO Box 9" in page.text
        listing = await clerk.get("/carriers", params={"q": "amic"})
        assert "Acme Mutual" in listing.text and "1 carrier" in listing.text
        for path, field in (("/statements", "carrier"), ("/", "carrier"), ("/policies/update", "f_carrier"),
                            ("/carrier-profiles", "carrier")):
            html = (await clerk.get(path)).text
            assert f'<select name="{field}"' in html and '<option value="Acme Mutual"' in html, path
        # a policy typed by hand under an unknown carrier: refused in words, the input kept
        r = await clerk.post("/policies", data={"carrier": "Acme Mutul", "policy_number": "P-9", "client_name": "Zed"})
        assert "Did you mean" in r.text and 'value="P-9"' in r.text


async def test_invoicing_opens_reconciliations_against_registered_carriers_only(start_service, token_for) -> None:
    intake = await start_service("intake")
    invoicing = await start_service("invoicing")
    async with intake.as_user(token_for("clerk")) as ic, invoicing.as_user(token_for("clerk")) as c:
        await register_carriers(ic, "Acme Mutual", subordinates=["Acme Casualty"],
                                addresses=["1 Main St\nSpringfield", "PO Box 9\nSpringfield"])

        async def known():
            items = (await c.get("/api/carriers")).json()["items"]
            return items if items else None
        items = await eventually(known, message="carrier registry reached invoicing")
        assert items[0]["subordinates"] == ["Acme Casualty"] and len(items[0]["addresses"]) == 2
        r = await c.post("/api/reconciliations", json={"carrier": "ACME  mutual", "subordinate_carrier": "acme casualty",
                                                       "address": "PO Box 9\nSpringfield"})
        assert r.status_code == 201, r.text
        assert (r.json()["carrier"], r.json()["subordinate_carrier"]) == ("Acme Mutual", "Acme Casualty")
        for bad, field in (({"carrier": "Acme Mutul"}, "carrier"),
                           ({"carrier": "Acme Mutual", "subordinate_carrier": "Other Co"}, "subordinate_carrier"),
                           ({"carrier": "Acme Mutual", "address": "9 Elsewhere Rd"}, "address")):
            r = await c.post("/api/reconciliations", json=bad)
            assert r.status_code == 422 and field in r.json()["detail"]["errors"], r.text
        page = await c.get("/reconciliations")
        assert '<select id="rec-carrier" name="carrier"' in page.text and "Acme Casualty" in page.text
        r = await c.post("/reconciliations/new", data={"carrier": "Nobody Inc"})
        assert r.status_code == 303 and "not+registered" in r.headers["location"]


def test_the_migration_registers_every_carrier_in_use(tmp_path: pathlib.Path) -> None:
    """Spellings that differ only in case or spaces become one carrier named by most of its policies."""
    import asyncio

    url = f"sqlite:///{tmp_path / 'intake.db'}"
    cfg = alembic_config(pathlib.Path(__import__("intake").__file__).parent / "migrations", url)
    command.upgrade(cfg, "0007")

    async def seed_and_read(sql: list[str] | None, query: str | None = None):
        engine = make_engine(url.replace("sqlite:///", "sqlite+aiosqlite:///"))
        try:
            async with engine.begin() as conn:
                for stmt in sql or []:
                    await conn.execute(text(stmt))
                return (await conn.execute(text(query))).all() if query else None
        finally:
            await engine.dispose()

    cols = "(id, version, carrier, policy_number, client_name, created_by, created_at, updated_at)"
    at = "2026-01-01 00:00:00+00:00"
    rows = [("a", "Acme Mutual", "P1"), ("b", "Acme Mutual", "P2"), ("c", "acme  mutual", "P3"),
            ("d", "acme  mutual", "P1"), ("e", "Beta", "B1")]
    asyncio.run(seed_and_read([
        f"INSERT INTO policies {cols} VALUES ('{i}', 1, '{c}', '{n}', 'X', 'm', '{at}', '{at}')"
        for i, c, n in rows]))
    command.upgrade(cfg, "head")
    carriers = asyncio.run(seed_and_read(None, "SELECT name, key, created_by FROM carriers ORDER BY key"))
    assert [tuple(r) for r in carriers] == [("Acme Mutual", "acme mutual", "migration"), ("Beta", "beta", "migration")]
    policies = asyncio.run(seed_and_read(None, "SELECT id, carrier FROM policies ORDER BY id"))
    # P3 takes the registered name; the second P1 would collide with the first and keeps its spelling
    assert dict(policies) == {"a": "Acme Mutual", "b": "Acme Mutual", "c": "Acme Mutual", "d": "acme  mutual",
                              "e": "Beta"}
