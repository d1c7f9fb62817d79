"""The audit trail (issue 19 item 6, NAIC #668): append-only rows for logins, reveals of personal data
and the changes a use case records in its own transaction; read newest first, paginated with a total,
by users with audit:view only. Real services, real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from agency_common.dead_letters import seal
from agency_common.timeutil import utcnow
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from tests.conftest import PASSWORDS


async def test_logins_are_recorded_and_read_newest_first_by_auditors_only(start_service, token_for) -> None:
    reporting = await start_service("reporting")
    client = reporting.client
    wrong = await client.post("/api/auth/token", data={"username": "clerk", "password": "not-it"})
    assert wrong.status_code == 401
    right = await client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert right.status_code == 200
    unknown = await client.post("/api/auth/token", data={"username": "mallory", "password": "x"})
    assert unknown.status_code == 401

    async with reporting.as_user(token_for("admin")) as admin:
        trail = (await admin.get("/api/audit", params={"action": "login"})).json()
        assert trail["total"] == 3
        assert [(r["action"], r["actor"]) for r in trail["items"]] == [
            ("login.failed", "mallory"), ("login.succeeded", "clerk"), ("login.failed", "clerk")]
        assert all(r["address"] and r["correlation_id"] and r["at"] for r in trail["items"])
        first_page = (await admin.get("/api/audit", params={"action": "login", "limit": 2})).json()
        second_page = (await admin.get("/api/audit", params={"action": "login", "limit": 2, "offset": 2})).json()
        assert [r["id"] for r in first_page["items"] + second_page["items"]] == [r["id"] for r in trail["items"]]
        assert (await admin.get("/api/audit", params={"actor": "clerk"})).json()["total"] == 2
        page = await admin.get("/audit", params={"actor": "mallory"}, headers={"Accept": "text/html"})
        assert page.status_code == 200 and "login.failed" in page.text and "1 entry" in page.text
    async with reporting.as_user(token_for("clerk")) as clerk:  # accounting: no audit:view
        assert (await clerk.get("/api/audit")).status_code == 403


async def test_a_change_and_its_audit_row_commit_together_and_rows_never_change(start_service) -> None:
    intake = await start_service("intake")
    rt, log = intake.runtime, intake.runtime.tables.audit_log
    with pytest.raises(RuntimeError):
        async with rt.uow(actor="clerk") as tx:
            await tx.audit("invoice.deleted", subject_type="invoice", subject_id="inv-1", detail={"premium": "10.00"})
            raise RuntimeError("the change failed")
    async with rt.uow(actor="clerk") as tx:
        await tx.audit("invoice.deleted", subject_type="invoice", subject_id="inv-2",
                       detail={"premium": "10.00", "ssn": "123-45-6789"})
    async with rt.db.session() as s:
        rows = (await s.execute(select(log).where(log.c.action == "invoice.deleted"))).mappings().all()
    assert [(r["subject_id"], r["actor"]) for r in rows] == [("inv-2", "clerk")], "the failed change left no row"
    assert "123-45-6789" not in rows[0]["detail"], "no PII value in an audit row"
    for statement in (update(log).values(actor="someone else"), delete(log)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with rt.db.transaction() as s:
                await s.execute(statement)
    async with rt.db.session() as s:
        assert (await s.execute(select(log.c.actor).where(log.c.subject_id == "inv-2"))).scalar_one() == "clerk"


async def test_dead_letters_shown_unmasked_are_a_recorded_reveal(start_service, token_for) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    async with rt.db.transaction() as s:
        await s.execute(insert(rt.tables.dead_letters), {
            "consumer": "intake", "topic": "upstream.individuals.v1", "partition": 0, "offset": 1, "key": "k",
            "event_id": "e-1", "event_type": "upstream.individual.upserted", "error_type": "ValidationError",
            "error": "bad date", "attempts": 1, "payload": seal(b'{"ssn": "123-45-6789"}', rt.pii),
            "headers": "{}", "failed_at": utcnow()})
    async with intake.as_user(token_for("clerk")) as clerk:  # operations:view, no pii:reveal: masked
        assert (await clerk.get("/api/dead-letters")).status_code == 200
    async with intake.as_user(token_for("admin")) as admin:
        shown = (await admin.get("/api/dead-letters")).json()
        assert "123-45-6789" in shown[0]["payload_preview"]
        reveals = (await admin.get("/api/audit", params={"action": "pii.revealed"})).json()
    assert reveals["total"] == 1 and reveals["items"][0]["actor"] == "admin"
    assert reveals["items"][0]["detail"] == {"dead_letters": [shown[0]["id"]]}


def test_a_detail_too_long_is_kept_as_valid_json_said_to_be_cut() -> None:
    import json

    from agency_common.audit import DETAIL_LIMIT, audit_row

    row = audit_row("statement_entry.changed", "clerk", detail={"rows": list(range(5000))})
    kept = json.loads(row["detail"])
    assert kept["truncated"] is True and kept["characters"] > DETAIL_LIMIT and len(row["detail"]) <= DETAIL_LIMIT
