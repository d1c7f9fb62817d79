"""Create Policies in the background above the threshold: a job with visible progress, the service
answering other requests while its one transaction runs, idempotent repeats, interrupted jobs run
again at start-up. Through HTTP, the database and the real broker."""

from __future__ import annotations

import asyncio
import json
import uuid

from intake.models import CreatePoliciesJob
from intake.policy_sessions.schemas import CreatePoliciesRequest

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

HEADER = "Policy #,Named Insured,Trans Type,Eff Date,Exp Date,LOB,Premium,Comm %,Comm Amt\r\n"


def statement(n: int, prefix: str = "BG") -> bytes:
    rows = [f"{prefix}-{i},Holder {i},NBS,01/15/2026,01/15/2027,AUTOP,100.00,10%,10.00\r\n" for i in range(1, n + 1)]
    return (HEADER + "".join(rows)).encode()


async def import_statement(client, n: int, prefix: str = "BG") -> str:
    await register_carriers(client, "Acme")
    r = await client.post("/api/statements", files={"file": (f"{prefix}.csv", statement(n, prefix), "text/csv")},
                          data={"carrier": "Acme"})
    assert r.status_code == 202, r.text
    sid = r.json()["id"]

    body = await wait_imported(client, sid)
    assert body["status"] == "imported" and body["unmatched"] == n, body
    return sid


async def test_large_create_policies_runs_as_a_job_with_progress(start_service, token_for, kafka) -> None:
    intake = await start_service("intake", create_policies_background_threshold=3, create_policies_chunk=2)
    jobs = intake.app.state.policy_jobs
    reached, release = asyncio.Event(), asyncio.Event()
    reports: list[tuple[int, int]] = []

    async def hook(_job_id: str, done: int, total: int) -> None:
        reports.append((done, total))
        if done == 2 and not reached.is_set():  # pause the job mid-run, inside its transaction
            reached.set()
            await release.wait()
    jobs.hook = hook

    async with intake.as_user(token_for("clerk")) as client:
        sid = await import_statement(client, 7)
        req = {"idempotency_key": str(uuid.uuid4()), "defaults": {"line_of_business": "Personal Auto"}}
        r = await client.post(f"/api/statements/{sid}/create-policies", json=req)
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        assert r.json()["background"] is True and r.headers["location"] == f"/api/create-policies-jobs/{job['id']}"
        assert job["status"] in ("queued", "running") and job["total"] == 7 and job["created_by"] == "clerk"

        await asyncio.wait_for(reached.wait(), 30)
        # mid-run: progress is visible and the service answers other requests meanwhile
        mid = (await client.get(f"/api/create-policies-jobs/{job['id']}")).json()
        assert (mid["status"], mid["done"], mid["total"]) == ("running", 2, 7), mid
        assert mid["phase"] == "creating clients and policies" and mid["session_id"] is None
        body = (await client.get(f"/api/statements/{sid}")).json()
        assert (body["matched"], body["unmatched"]) == (0, 7)  # one transaction: nothing shows before it commits
        assert (await client.get("/api/policy-sessions")).json()["total"] == 0
        page = await client.get(f"/create-policies-jobs/{job['id']}")
        assert page.status_code == 200 and "<strong>2</strong> of 7" in page.text
        page = await client.get(f"/statements/{sid}")  # the way back to a job one has left
        assert f'href="/create-policies-jobs/{job["id"]}"' in page.text and "running (2 of 7)" in page.text
        # the same request while the job runs: the same job, nothing started twice
        again = await client.post(f"/api/statements/{sid}/create-policies", json=req)
        assert again.status_code == 202 and again.json()["job"]["id"] == job["id"]
        # another request for the same statement meanwhile is refused, naming the running job
        other = await client.post(f"/api/statements/{sid}/create-policies", json={"idempotency_key": "other"})
        assert other.status_code == 409 and job["id"] in other.json()["detail"]
        release.set()

        async def finished():
            data = (await client.get(f"/api/create-policies-jobs/{job['id']}")).json()
            return data if data["status"] in ("done", "failed") else None
        done = await eventually(finished, timeout=30, message="job finished")
        assert done["status"] == "done" and (done["done"], done["total"]) == (7, 7), done
        assert done["session"]["count"] == 7 and done["session"]["created_by"] == "clerk"
        assert reports == [(0, 7), (2, 7), (4, 7), (6, 7), (7, 7)]

        # a repeat after the job: the session it made, nothing created twice
        repeat = await client.post(f"/api/statements/{sid}/create-policies", json=req)
        assert repeat.status_code == 200 and repeat.json()["id"] == done["session_id"]
        assert repeat.json()["created"] is False
        body = (await client.get(f"/api/statements/{sid}")).json()
        assert (body["matched"], body["unmatched"]) == (7, 0)
        assert (await client.get("/api/policy-sessions")).json()["total"] == 1
        policies = (await client.get("/api/policies", params={"carrier": "Acme", "limit": 100})).json()
        assert sorted(p["policy_number"] for p in policies["items"]) == [f"BG-{i}" for i in range(1, 8)]
        page = await client.get(f"/create-policies-jobs/{job['id']}")
        assert f'href="/policy-sessions/{done["session_id"]}"' in page.text

        # below the threshold the call still answers with the session at once
        small = await import_statement(client, 3, prefix="SM")
        r = await client.post(f"/api/statements/{small}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        assert r.status_code == 201 and r.json()["count"] == 3 and r.json()["created"] is True


async def test_dashboard_leads_to_the_job_page(start_service, token_for, kafka) -> None:
    intake = await start_service("intake", create_policies_background_threshold=2, create_policies_chunk=2)
    async with intake.as_user(token_for("clerk")) as client:
        sid = await import_statement(client, 5)
        r = await client.post(f"/statements/{sid}/create-policies",
                              data={"idempotency_key": "dash-1", "line_of_business": "Auto", "status": "active"})
        assert r.status_code == 303 and r.headers["location"].startswith("/create-policies-jobs/")
        job_url = r.headers["location"]

        async def linked():
            page = await client.get(job_url)
            return page.text if "/policy-sessions/" in page.text and "done" in page.text else None
        text = await eventually(linked, timeout=30, message="job page links to its session")
        assert "5 policies created" in text


async def test_interrupted_jobs_run_again_or_fail_clearly_at_start_up(start_service, token_for, kafka) -> None:
    first = await start_service("intake", create_policies_background_threshold=2)
    async with first.as_user(token_for("clerk")) as client:
        sid = await import_statement(client, 4)
    # a process stopped while these ran: their transactions never committed
    req = CreatePoliciesRequest(idempotency_key="interrupted-1")
    async with first.runtime.uow(actor="clerk") as tx:
        tx.session.add(CreatePoliciesJob(id="job-resumed", statement_id=sid, idempotency_key="interrupted-1",
                                         request=req.model_dump_json(), status="running", total=4, attempts=1,
                                         created_by="clerk"))
        tx.session.add(CreatePoliciesJob(id="job-given-up", statement_id=sid, idempotency_key="interrupted-2",
                                         request=json.dumps({"idempotency_key": "interrupted-2"}), status="running",
                                         total=4, attempts=3, created_by="clerk"))

    second = await start_service("intake", database_url=first.settings.database_url,
                                 create_policies_background_threshold=2)
    async with second.as_user(token_for("clerk")) as client:
        async def settled():
            a = (await client.get("/api/create-policies-jobs/job-resumed")).json()
            b = (await client.get("/api/create-policies-jobs/job-given-up")).json()
            return (a, b) if a["status"] in ("done", "failed") and b["status"] in ("done", "failed") else None
        resumed, given_up = await eventually(settled, timeout=30, message="interrupted jobs settled")
        assert resumed["status"] == "done" and resumed["session"]["count"] == 4 and resumed["attempts"] == 2
        assert given_up["status"] == "failed" and "interrupted 3 times" in given_up["error"]
        assert given_up["session_id"] is None
        assert (await client.get("/api/policy-sessions")).json()["total"] == 1
