"""Two intake replicas on one database (issue 20 item 0): a Create Policies job runs on one of them at
a time. The other leaves it alone while its holder works, and takes it over only once the holder is
gone (here: stopped without handing its lease back, as kill -9 leaves it); the job then ends done once,
with exact counts, and is never marked failed. Real broker, real database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack

import pytest

from tests.intake.policy_sessions.test_create_policies_jobs_service import import_statement
from tests.support.databases import using_postgres
from tests.support.inprocess import eventually, run_service

# a lease of 8 s renewed every 2 s: room for a renewal delayed by a loaded machine (4 s was taken over
# once at load ~5 with the holder alive)
FAST_LEASE = {"job_lease_seconds": 8.0, "create_policies_background_threshold": 3, "create_policies_chunk": 2}


# Replicas share a PostgreSQL database (deploy/k8s); a SQLite file is one process's: there a job's long
# write transaction holds the file's only write lock, its own lease renewal included.
@pytest.mark.skipif(not using_postgres(), reason="replicas of a service share a PostgreSQL database")
async def test_a_replica_leaves_a_held_job_alone_and_takes_over_a_gone_ones(
        platform_env, databases, token_for, kafka) -> None:
    url = databases.new("intake")
    reached, never = asyncio.Event(), asyncio.Event()

    async def stall(_job_id: str, done: int, _total: int) -> None:
        if done == 2:  # pod A stops mid-job, inside its transaction
            reached.set()
            await never.wait()

    async with AsyncExitStack() as pod_a, AsyncExitStack() as pod_b:
        a = await pod_a.enter_async_context(run_service("intake", platform_env, url, **FAST_LEASE))
        a.app.state.policy_jobs.hook = stall
        async with a.as_user(token_for("clerk")) as client:
            sid = await import_statement(client, 7, prefix="RP")
            r = await client.post(f"/api/statements/{sid}/create-policies",
                                  json={"idempotency_key": str(uuid.uuid4()),
                                        "defaults": {"line_of_business": "Personal Auto"}})
            assert r.status_code == 202, r.text
            job_id = r.json()["job"]["id"]
        await asyncio.wait_for(reached.wait(), 60)

        b = await pod_b.enter_async_context(
            run_service("intake", platform_env, url, migrate_first=False, **FAST_LEASE))
        b_jobs = b.runtime.jobs["create-policies"]
        lease = f"create-policies:{job_id}"
        assert await b.runtime.leases.holder_of(lease) == a.runtime.instance_id
        # pod B looks for unfinished jobs: for a whole lease length it leaves A's alone
        for _ in range(2):
            await b_jobs.resume_unfinished()
            await asyncio.sleep(4.0)
            assert job_id not in b_jobs.tasks or b_jobs.tasks[job_id].done()
            assert await b.runtime.leases.holder_of(lease) == a.runtime.instance_id
        async with b.as_user(token_for("clerk")) as client:
            held = (await client.get(f"/api/create-policies-jobs/{job_id}")).json()
        assert (held["status"], held["attempts"]) == ("running", 1), held

        # pod A is gone without a word (kill -9): its job's transaction never commits and its lease
        # stays in the table, no longer renewed, until it runs out
        async def leave_it(_name: str) -> None:
            return None
        a.runtime.leases.release = leave_it  # type: ignore[method-assign]
        await pod_a.aclose()

        async with b.as_user(token_for("clerk")) as client:
            async def finished():
                data = (await client.get(f"/api/create-policies-jobs/{job_id}")).json()
                return data if data["status"] in ("done", "failed") else None
            done = await eventually(finished, timeout=60, message="pod B finished the job pod A left")
            assert done["status"] == "done" and done["attempts"] == 2 and done["error"] is None, done
            assert done["session"]["count"] == 7
            assert (await client.get("/api/policy-sessions")).json()["total"] == 1
            policies = (await client.get("/api/policies", params={"limit": 100})).json()
            assert policies["total"] == 7, "every line made one policy, none twice"
        assert await b.runtime.leases.holder_of(lease) is None, "handed back when done"
