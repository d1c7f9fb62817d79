"""Bulk appoint above the background threshold: a job with progress (observed mid-run through the
chunk hook, no sleeps), a service that keeps answering while it runs, an idempotent repeat, chunks
never done twice, a job resumed after the process stopped mid-way, a failure shown clearly."""

from __future__ import annotations

import asyncio

from appointments import models as m
from appointments.bulk_appoint import jobs
from appointments.domain import vocabulary as v
from sqlalchemy import func, select

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import CA_LH, TX_LH, add_producer
from tests.support.inprocess import eventually, run_service

PER_PRODUCER = 6  # CA 4 lines + TX 2 lines of "Life & Health" in the dev reference data


def request(npn: str) -> dict:
    return {"npn": npn, "states": ["CA", "TX"], "loa_category": "Life & Health", "cocodes": ["60054"], "submit": False}


async def add_producers(rt, npns) -> None:
    for npn in npns:
        await add_producer(rt, npn, [("TX", TX_LH, True), ("CA", CA_LH, False)])


async def count_transactions(rt) -> int:
    async with rt.db.session() as s:
        return await s.scalar(select(func.count()).select_from(m.AppointmentTransaction))


async def finished(client, job_id: str) -> dict:
    async def done() -> dict | None:
        job = (await client.get(f"/api/appointment-jobs/{job_id}")).json()
        return job if job["status"] in ("done", "failed") else None
    return await eventually(done, timeout=60, message=f"job {job_id} finished")


async def test_background_job_progress_responsiveness_and_idempotency(start_service, token_for) -> None:
    svc = await start_service("appointments", bulk_background_threshold=3, bulk_job_chunk=2)
    rt = svc.runtime
    npns = [f"71000{i}" for i in range(5)]
    await add_producers(rt, [*npns, "7100099"])
    paused, release = asyncio.Event(), asyncio.Event()

    async def hook(job_id: str, chunk: int) -> None:
        if chunk == 0:
            paused.set()
            await release.wait()
    rt.appointment_job_hook = hook
    client = svc.as_user(token_for("licensing"))
    body = {"requests": [request(n) for n in npns] + [request("7999999")]}  # the last NPN is unknown

    # below the threshold the documented synchronous answer is unchanged
    small = await client.post("/api/appointments/bulk", json={"requests": [request("7100099")]})
    assert small.status_code == 200 and len(small.json()["results"][0]["transactions"]) == PER_PRODUCER

    started = await client.post("/api/appointments/bulk", json=body, headers={"Idempotency-Key": "big-1"})
    assert started.status_code == 202, started.text
    job_id = started.json()["job"]["id"]
    assert started.headers["location"] == f"/api/appointment-jobs/{job_id}"
    await asyncio.wait_for(paused.wait(), 60)

    # mid-run: the first chunk (2 requests) is committed and visible, the rest pending
    mid = (await client.get(f"/api/appointment-jobs/{job_id}")).json()
    assert (mid["status"], mid["total"], mid["processed"], mid["rejected"], mid["transactions"]) == \
        ("running", 6, 2, 0, 2 * PER_PRODUCER)
    items = mid["results"]["items"]
    assert [len(i.get("transactions", [])) for i in items[:2]] == [PER_PRODUCER] * 2
    assert all(i["pending"] for i in items[2:])
    # the service keeps answering while the job is under way, writes included
    assert (await client.get("/api/transaction-batches")).status_code == 200
    sync = await client.post("/api/appointments/bulk", json={"requests": [
        {**request("7100099"), "states": ["FL"]}]})
    assert sync.status_code == 200, sync.text
    admin = svc.as_user(token_for("admin"))
    page = await admin.get(f"/appoint/jobs/{job_id}")
    assert page.status_code == 200 and 'id="job-processed">2<' in page.text and "You may leave" in page.text
    listing = await admin.get("/appoint")
    assert f"/appoint/jobs/{job_id}" in listing.text
    # a repeated call with the same key answers the same job and starts nothing
    again = await client.post("/api/appointments/bulk", json=body, headers={"Idempotency-Key": "big-1"})
    assert again.status_code == 202 and again.json()["job"]["id"] == job_id and again.json()["replayed"]
    assert len(await jobs.list_jobs(rt)) == 1

    release.set()
    job = await finished(client, job_id)
    assert (job["status"], job["processed"], job["rejected"], job["transactions"]) == ("done", 6, 1, 5 * PER_PRODUCER)
    assert len(job["batches"]) == 1 and job["batches"][0]["cocode"] == "60054"  # one batch per CoCode for the job
    batch = (await client.get(f"/api/transaction-batches/{job['batches'][0]['batch_id']}")).json()
    assert batch["counts"] == {v.READY: 5 * PER_PRODUCER} and batch["source"] == "api"
    # per-request results, paginated, in request order
    first = (await client.get(f"/api/appointment-jobs/{job_id}", params={"limit": 4})).json()["results"]
    assert len(first["items"]) == 4 and first["next_offset"] == 4
    rest = (await client.get(f"/api/appointment-jobs/{job_id}", params={"offset": 4})).json()["results"]
    assert [i["npn"] for i in rest["items"]] == ["710004", "7999999"] and rest["next_offset"] is None
    assert rest["items"][1]["rejected"] and rest["items"][1]["rejection_reason"]
    assert {t["eligibility_reason"] for t in rest["items"][0]["transactions"]} == {v.IN_GOOD_STANDING}
    done_page = await admin.get(f"/appoint/jobs/{job_id}")
    assert f"/batches/{job['batches'][0]['batch_id']}" in done_page.text and "Rejected:" in done_page.text

    # a chunk redone (a crash after its commit) creates nothing twice; a repeat after the end neither
    before = await count_transactions(rt)
    assert before == 5 * PER_PRODUCER + PER_PRODUCER + 3  # the job, the small call, the FL call
    assert await jobs.run_chunk(rt, job_id, 0) is False
    assert await jobs.run_chunk(rt, job_id, 2) is False
    replay = await client.post("/api/appointments/bulk", json=body, headers={"Idempotency-Key": "big-1"})
    assert replay.json()["job"]["id"] == job_id
    await jobs.run_job(rt, job_id)
    assert await count_transactions(rt) == before
    assert (await client.get("/api/appointment-jobs/nope")).status_code == 404


async def test_two_runners_of_one_job_create_nothing_twice(start_service, token_for) -> None:
    """Two processes resuming the same job at once: each chunk is claimed by one of them."""
    svc = await start_service("appointments", bulk_background_threshold=1, bulk_job_chunk=1)
    rt = svc.runtime
    npns = [f"72000{i}" for i in range(4)]
    await add_producers(rt, npns)
    gate = asyncio.Event()

    async def hold(job_id: str, chunk: int) -> None:
        await gate.wait()
    rt.appointment_job_hook = hold  # the launched runner stops after its first chunk
    client = svc.as_user(token_for("licensing"))
    started = await client.post("/api/appointments/bulk", json={"requests": [request(n) for n in npns]})
    job_id = started.json()["job"]["id"]
    rt.appointment_job_hook = None
    await asyncio.gather(jobs.run_job(rt, job_id), jobs.run_job(rt, job_id))
    gate.set()
    job = await finished(client, job_id)
    assert (job["processed"], job["transactions"]) == (4, 4 * PER_PRODUCER)
    assert await count_transactions(rt) == 4 * PER_PRODUCER


async def test_file_job_resumes_after_restart_and_failure_is_shown(platform_env, databases, start_service,
                                                                    token_for) -> None:
    url = databases.new("appointments")
    npns = [f"73000{i}" for i in range(4)]
    lines = ["NPN,States,LOA Category,CoCodes,Submit,Submit Just In Time"]
    lines += [f"{n},CA;TX,Life & Health,60054,false,false" for n in npns]
    paused = asyncio.Event()
    async with run_service("appointments", platform_env, url, bulk_background_threshold=1, bulk_job_chunk=2) as first:
        await add_producers(first.runtime, npns)

        async def stop_here(job_id: str, chunk: int) -> None:
            paused.set()
            await asyncio.Event().wait()  # the process is stopped while the job waits here
        first.runtime.appointment_job_hook = stop_here
        async with first.as_user(token_for("licensing")) as client:
            r = await client.post("/api/appointments/bulk-file", files={"file": ("b.csv", csv_bytes(*lines), "text/csv")})
            assert r.status_code == 202, r.text
            job_id = r.json()["job"]["id"]
            await asyncio.wait_for(paused.wait(), 60)
    # stopped after chunk 0: still running, half done
    second = await start_service("appointments", database_url=url, bulk_background_threshold=1, bulk_job_chunk=2)
    client = second.as_user(token_for("licensing"))
    job = await finished(client, job_id)
    assert (job["status"], job["processed"], job["transactions"], job["source"]) == ("done", 4, 4 * PER_PRODUCER, "file")
    assert await count_transactions(second.runtime) == 4 * PER_PRODUCER
    assert [i["line"] for i in job["results"]["items"]] == [2, 3, 4, 5]

    # a job whose chunk fails is marked failed with the error; the chunks before it stay done
    async def explode(job_id: str, chunk: int) -> None:
        if chunk == 1:
            raise RuntimeError("simulated outage")
    second.runtime.appointment_job_hook = explode
    more = [f"73001{i}" for i in range(6)]
    await add_producers(second.runtime, more)
    r = await client.post("/api/appointments/bulk", json={"requests": [request(n) for n in more]})
    failed = await finished(client, r.json()["job"]["id"])
    assert failed["status"] == "failed" and "simulated outage" in failed["error"] and failed["processed"] == 4
    page = await second.as_user(token_for("admin")).get(f"/appoint/jobs/{failed['id']}")
    assert "The job failed" in page.text and "simulated outage" in page.text
