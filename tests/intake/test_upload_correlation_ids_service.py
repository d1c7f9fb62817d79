"""Each upload carries its own correlation id into its background work (issue 18 item 5: every
statement import carried the first upload's id): the id of the upload's request (its
``X-Correlation-ID`` answer) is the one in its import's events and log lines, never another upload's."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.intake.individuals.test_individuals_import_jobs_service import HEADER, csv_text, upload
from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually, run_service


def statement(n: int) -> bytes:
    return ("Policy #,Named Insured,Trans Type,Premium,Comm Amt\r\n"
            + "".join(f"C{n}-{i},Holder {i},NBS,100.00,10.00\r\n" for i in range(1, 6))).encode()


async def _imported_envelopes(rt) -> dict[str, dict]:
    out = rt.tables.outbox
    async with rt.db.session() as s:
        rows = (await s.execute(select(out.c.payload).where(out.c.event_type == "intake.statement.imported"))
                ).scalars().all()
    return {env["payload"]["statement_id"]: env for env in map(json.loads, rows)}


async def test_each_statement_upload_carries_its_own_correlation_id(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Trace Mutual")
        uploads = []
        for n in (1, 2):
            r = await client.post("/api/statements", files={"file": (f"c{n}.csv", statement(n), "text/csv")},
                                  data={"carrier": "Trace Mutual"})
            assert r.status_code in (200, 201, 202), r.text
            uploads.append((r.json()["id"], r.headers["x-correlation-id"]))
        for sid, _cid in uploads:
            assert (await wait_imported(client, sid))["status"] == "imported"
    envelopes = await _imported_envelopes(intake.runtime)
    ids = [envelopes[sid]["correlation_id"] for sid, _cid in uploads]
    assert ids == [cid for _sid, cid in uploads], "each import carries its own upload's id"
    assert ids[0] != ids[1]


async def test_each_individuals_import_carries_its_own_correlation_id(
        platform_env, databases, token_for, capsys: pytest.CaptureFixture[str]) -> None:
    small = {"individuals_import_background_threshold": 1, "individuals_import_chunk": 2}
    # stopped before the test reads the captured log (a service stopped later would log into a closed file)
    async with (run_service("intake", platform_env, databases.new("intake"), **small) as svc,
                svc.as_user(token_for("sales")) as client):
        jobs = {}
        for n in (1, 2):
            r = await client.post("/api/individuals/import", files=upload(csv_text(
                HEADER, f",trace-{n}a,Ann,Alpha{n},,,TX", f",trace-{n}b,Bob,Beta{n},,,TX")))
            assert r.status_code == 202, r.text
            jobs[r.json()["job"]["id"]] = r.headers["x-correlation-id"]

        async def both_done() -> bool:
            states = [(await client.get(f"/api/individual-imports/{j}")).json()["status"] for j in jobs]
            return all(st == "done" for st in states)
        await eventually(both_done, timeout=30, message="both imports done")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    done = {line["job_id"]: line.get("correlation_id") for line in lines if line.get("event") == "individuals import done"}
    assert done == jobs, "each import's log lines carry its own upload's id"
    assert len(set(done.values())) == 2
