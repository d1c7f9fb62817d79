"""One importer per statement among replicas (issue 20 item 0): two intake instances share a database;
a statement held under a live lease is left alone (no lines deleted, not failed by the other), one whose
holder is gone (lease run out) is taken over and imported once, and a holder that lost its lease can
neither fail it nor report counts the database does not hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from agency_common.timeutil import utcnow
from intake.models import Statement, StatementLineRow
from intake.statements.imports import STATEMENTS, LeaseLost, StatementImports, complete_import
from sqlalchemy import func, select, update

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers

CSV = "Policy #,Named Insured,Trans Type,Premium,Comm Amt\r\n" + "".join(
    f"L-{n},Holder {n},NBS,100.00,10.00\r\n" for n in range(1, 31))


async def _lines(rt, sid: str) -> int:
    async with rt.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(StatementLineRow)
                                  .where(StatementLineRow.statement_id == sid)))


async def _hold(rt, sid: str, owner: str, seconds: float) -> None:
    async with rt.db.transaction() as s:
        await s.execute(update(STATEMENTS).where(STATEMENTS.c.id == sid).values(
            status="processing", claimed_by=owner, lease_until=utcnow() + timedelta(seconds=seconds)))


async def test_a_statement_has_one_importer_at_a_time(start_service, token_for) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Lease Mutual")
        r = await client.post("/api/statements", files={"file": ("l.csv", CSV.encode(), "text/csv")},
                              data={"carrier": "Lease Mutual"})
        sid = r.json()["id"]
        first = await wait_imported(client, sid)
        assert first["status"] == "imported" and await _lines(rt, sid) == 30

        other = StatementImports(rt)  # a second replica on the same database
        other.owner = "pod-b"
        assert other.owner != rt.instance_id

        # held by a live instance: the other one neither re-imports nor fails it
        await _hold(rt, sid, "pod-a", 60)
        await other.process(sid)
        await other._fail(sid, "pod-b gave up")
        async with rt.db.session() as s:
            st = await s.get(Statement, sid)
        assert (st.status, st.claimed_by, st.error) == ("processing", "pod-a", None)
        assert await _lines(rt, sid) == 30  # nothing deleted

        # its holder is gone (the lease ran out): taken over and imported once
        await _hold(rt, sid, "pod-a", -1)
        await other.process(sid)
        body = (await client.get(f"/api/statements/{sid}")).json()
        assert body["status"] == "imported" and body["total"] == 30, body
        assert await _lines(rt, sid) == 30  # rewritten, not doubled
        async with rt.db.session() as s:
            st = await s.get(Statement, sid)
        assert st.claimed_by is None and st.lease_until is None

        # a holder that lost its lease cannot complete it with its counts
        await _hold(rt, sid, "pod-b", 60)
        with pytest.raises(LeaseLost):
            async with rt.uow(actor="pod-a") as tx:
                await complete_import(tx, sid, {"total": 99, "valid": 99, "invalid": 0, "blank": 0, "matched": 0,
                                                "unmatched": 99, "ambiguous": 0}, auto_publish=False, owner="pod-a")
        async with rt.db.session() as s:
            st = await s.get(Statement, sid)
        assert st.status == "processing" and st.total == 30
