"""One importer per statement among replicas (issue 20 item 0): each upload's import is a job of the
service's one job runner, under its lease. A statement whose lease another instance holds is left
alone (no lines deleted, not failed by the other), one whose holder is gone (lease run out) is taken
over and imported once, and a holder that lost its lease can neither fail it nor report counts the
database does not hold. Two intake instances on one PostgreSQL database import each statement once."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from agency_common.leases import LeaseLost, Leases
from agency_common.timeutil import utcnow
from intake.models import Statement, StatementLineRow
from intake.statements.imports import STATEMENTS, complete_import
from sqlalchemy import func, select, update

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers
from tests.support.databases import using_postgres
from tests.support.inprocess import eventually, run_service

CSV = "Policy #,Named Insured,Trans Type,Premium,Comm Amt\r\n" + "".join(
    f"L-{n},Holder {n},NBS,100.00,10.00\r\n" for n in range(1, 31))
FAST_LEASE = {"job_lease_seconds": 4.0}  # room for a loaded machine (renewed every second)


async def _lines(rt, sid: str) -> int:
    async with rt.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(StatementLineRow)
                                  .where(StatementLineRow.statement_id == sid)))


async def _imported_events(rt, sid: str) -> list[dict]:
    out = rt.tables.outbox
    async with rt.db.session() as s:
        rows = (await s.execute(select(out.c.payload).where(out.c.event_type == "intake.statement.imported",
                                                            out.c.key == sid))).scalars().all()
    return [json.loads(r) for r in rows]


async def _processing(rt, sid: str) -> None:
    async with rt.db.transaction() as s:
        await s.execute(update(STATEMENTS).where(STATEMENTS.c.id == sid).values(status="processing"))


async def _run_out(rt, lease: str) -> None:
    """The lease's holder is gone: it stopped renewing and its time has run out."""
    t = rt.tables.leases
    async with rt.db.transaction() as s:
        await s.execute(update(t).where(t.c.name == lease).values(lease_until=utcnow() - timedelta(seconds=1)))


async def test_a_statement_has_one_importer_at_a_time(start_service, token_for) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    imports = intake.app.state.imports
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Lease Mutual")
        r = await client.post("/api/statements", files={"file": ("l.csv", CSV.encode(), "text/csv")},
                              data={"carrier": "Lease Mutual"})
        sid = r.json()["id"]
        first = await wait_imported(client, sid)
        assert first["status"] == "imported" and await _lines(rt, sid) == 30
        lease = imports.runner.lease_name(sid)
        assert await rt.leases.holder_of(lease) is None, "handed back when done"

        # another replica holds it (its import under way): this one neither re-imports nor fails it
        other = Leases(rt.db, rt.tables.leases, "pod-b", timedelta(seconds=60))
        await _processing(rt, sid)
        assert await other.take(lease)
        await imports.process(sid)
        assert not await imports._fail(sid, "this replica gave up")
        async with rt.db.session() as s:
            st = await s.get(Statement, sid)
        assert (st.status, st.error) == ("processing", None)
        assert await _lines(rt, sid) == 30  # nothing deleted
        assert await rt.leases.holder_of(lease) == "pod-b"

        # its holder is gone (the lease ran out): taken over and imported once
        await _run_out(rt, lease)
        await imports.process(sid)
        body = (await client.get(f"/api/statements/{sid}")).json()
        assert body["status"] == "imported" and body["total"] == 30, body
        assert await _lines(rt, sid) == 30  # rewritten, not doubled
        assert await rt.leases.holder_of(lease) is None

        # a holder that lost its lease cannot complete it with its counts
        await _processing(rt, sid)
        assert await other.take(lease)
        with pytest.raises(LeaseLost):
            async with rt.uow(actor="pod-a") as tx:
                await complete_import(tx, sid, {"total": 99, "valid": 99, "invalid": 0, "blank": 0, "matched": 0,
                                                "unmatched": 99, "ambiguous": 0}, auto_publish=False,
                                      holds=imports.holds(sid))
        async with rt.db.session() as s:
            st = await s.get(Statement, sid)
        assert st.status == "processing" and st.total == 30
        # nor read it afresh: its first write (the claim, which would delete the lines) finds the lease lost
        with pytest.raises(LeaseLost):
            await imports._import(sid)
        assert await _lines(rt, sid) == 30


# Replicas share a PostgreSQL database (deploy/k8s); a SQLite file is one process's.
@pytest.mark.skipif(not using_postgres(), reason="replicas of a service share a PostgreSQL database")
async def test_two_instances_on_one_database_import_each_statement_once(
        platform_env, databases, token_for, kafka) -> None:
    url = databases.new("intake")
    async with AsyncExitStack() as pods:
        a = await pods.enter_async_context(run_service("intake", platform_env, url, **FAST_LEASE))
        b = await pods.enter_async_context(run_service("intake", platform_env, url, migrate_first=False,
                                                       **FAST_LEASE))
        async with a.as_user(token_for("clerk")) as on_a, b.as_user(token_for("clerk")) as on_b:
            await register_carriers(on_a, "Twin Mutual")

            async def upload(client, n: int) -> str:
                body = CSV.replace("L-", f"T{n}-").encode()  # each file its own SHA-256
                r = await client.post("/api/statements", files={"file": (f"t{n}.csv", body, "text/csv")},
                                      data={"carrier": "Twin Mutual"})
                assert r.status_code in (200, 201, 202), r.text
                return r.json()["id"]

            # uploads on both at once: each instance's runner also finds the other's statements unfinished
            sids = await asyncio.gather(*(upload(on_a if n % 2 else on_b, n) for n in range(6)))
            for sid in sids:
                assert (await wait_imported(on_a, sid))["status"] == "imported"
            for sid in sids:
                assert await _lines(a.runtime, sid) == 30
                assert len(await _imported_events(a.runtime, sid)) == 1, "imported once"

            # an instance gone mid-import (its lease left to run out): exactly one of the two takes over
            sid = sids[0]
            lease = a.app.state.imports.runner.lease_name(sid)
            gone = Leases(a.runtime.db, a.runtime.tables.leases, "pod-gone", timedelta(seconds=4))
            await _processing(a.runtime, sid)
            assert await gone.take(lease)

            async def reimported():
                return len(await _imported_events(a.runtime, sid)) == 2
            await eventually(reimported, timeout=30, message="a survivor took the gone instance's import over")
            assert (await on_b.get(f"/api/statements/{sid}")).json()["status"] == "imported"
            assert await _lines(a.runtime, sid) == 30, "rewritten once, not doubled"
            assert len(await _imported_events(a.runtime, sid)) == 2
