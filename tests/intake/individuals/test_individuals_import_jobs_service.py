"""The import of individuals above the background threshold: a job with progress (held mid-run
through the chunk hook, no sleeps), the same outcomes and counts as the synchronous import of the
same file, invalid rows offered back (masked, cells encrypted at rest), an idempotent repeat,
permissions, a job resumed after the service stopped mid-way that creates nobody twice, a file
that is not about individuals failing the job with its reason, and the dashboard journey."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

from intake.models import Individual, IndividualImport, IndividualImportRow
from sqlalchemy import func, select

from tests.support.inprocess import eventually, run_service

HEADER = "Individual ID,External ID,First Name,Last Name,SSN,Date of Birth,State"
SMALL = {"individuals_import_background_threshold": 3, "individuals_import_chunk": 2}
# the outcome of each line of big_file(), chunks of two rows: [2, 3] [4, 5] [6, 7] [8, 9] [10, 11] [12]
EXPECTED = [
    (2, "updated", []),
    (3, "created", []),
    (5, "invalid", ["dob: not a date"]),
    (6, "invalid", ["external_id: already on line 3 of this file"]),
    (7, "invalid", ["this individual is already on line 2 of this file"]),
    (8, "updated", []),
    (9, "invalid", ["this individual is already on line 8 of this file"]),
    (10, "invalid", ["id: no individual has this id"]),
    (11, "created", []),
    (12, "invalid", ["dob: not a date"]),
]
COUNTS = {"total": 11, "created": 2, "updated": 2, "invalid": 6, "blank": 1}


def upload(text: str, name: str = "people.csv") -> dict:
    return {"file": (name, text.encode("utf-8-sig"), "text/csv")}


def csv_text(*rows: str) -> str:
    return "".join(f"{r}\r\n" for r in rows)


def big_file(a_id: str, b_id: str) -> str:
    """Updates by External ID and by Individual ID, creates, a blank row, invalid rows (PII in
    them, a formula), a key already on an earlier line, an individual already updated earlier:
    the last two across chunks (and across a resume after the first chunk)."""
    return csv_text(
        HEADER,
        ",crm-a,,,,,FL",
        ",crm-n1,New,One,111-22-3333,05/06/1960,TX",
        ",,,,,,",
        ",,Bad,Date,222-33-4444,31/31/1960,TX",
        ",crm-n1,Dup,Key,,,TX",
        f"{a_id},,Again,,,,",
        f"{b_id},,Bee,,,,",
        ",crm-b,,,,,CA",
        "nope,,Who,Ever,,,FL",
        ",,Plain,Create,,,NY",
        ",,=cmd|calc,Formula,333-44-5555,bad,TX",
    )


async def seed(client) -> tuple[str, str]:
    """Two individuals with External IDs (a small file: imported at once)."""
    r = await client.post("/api/individuals/import", files=upload(csv_text(HEADER, ",crm-a,Ann,Alpha,,,TX",
                                                                          ",crm-b,Bob,Beta,,,TX")))
    assert r.status_code == 200 and r.json()["created"] == 2, r.text
    ids = []
    for last in ("alpha", "beta"):
        ids.append((await client.post("/api/individuals/search", json={"last_name": last})).json()["items"][0]["id"])
    return ids[0], ids[1]


def outcomes(items: list[dict]) -> list[tuple]:
    return [(i["line"], i["outcome"], i.get("reasons", i.get("errors"))) for i in items]


async def finished(client, job_id: str) -> dict:
    async def done() -> dict | None:
        job = (await client.get(f"/api/individual-imports/{job_id}")).json()
        return job if job["status"] in ("done", "failed") else None
    return await eventually(done, timeout=60, message=f"import {job_id} finished")


async def count_individuals(runtime) -> int:
    async with runtime.db.session() as s:
        return await s.scalar(select(func.count()).select_from(Individual))


def hold_after_first_chunk(imports) -> tuple[asyncio.Event, asyncio.Event]:
    """The job stops after its first chunk of two rows (``paused`` is set) until ``release`` is."""
    paused, release = asyncio.Event(), asyncio.Event()

    async def hold(_job_id: str, rows_done: int) -> None:
        if rows_done == 2:
            paused.set()
            await release.wait()
    imports.after_chunk = hold
    return paused, release


async def test_large_import_runs_as_a_job_like_the_synchronous_import(start_service, token_for) -> None:
    svc = await start_service("intake", **SMALL)
    imports = svc.app.state.individual_imports
    paused, release = hold_after_first_chunk(imports)
    sales, admin, clerk = (svc.as_user(token_for(u)) for u in ("sales", "admin", "clerk"))
    a_id, b_id = await seed(sales)
    data = big_file(a_id, b_id)

    started = await sales.post("/api/individuals/import", files=upload(data), headers={"Idempotency-Key": "imp-1"})
    assert started.status_code == 202, started.text
    job = started.json()["job"]
    assert started.json()["background"] is True and started.headers["location"] == f"/api/individual-imports/{job['id']}"
    assert (job["status"], job["total"], job["created_by"]) == ("queued", 11, "sales")
    await asyncio.wait_for(paused.wait(), 60)

    # mid-run: the first chunk is committed and visible; the service answers meanwhile
    mid = (await sales.get(f"/api/individual-imports/{job['id']}")).json()
    assert (mid["status"], mid["rows_done"], mid["total"], mid["created"], mid["updated"]) == ("running", 2, 11, 1, 1)
    assert 0 < mid["progress"] < 1 and mid["started_at"] and mid["finished_at"] is None
    assert (await sales.get(f"/api/individual-imports/{job['id']}/results")).json()["total"] == 2
    # the same request again: the first answer (the same job), nothing started twice; a small file still imports
    again = await sales.post("/api/individuals/import", files=upload(data), headers={"Idempotency-Key": "imp-1"})
    assert again.status_code == 202 and again.json()["job"]["id"] == job["id"] and again.json()["replayed"] is True
    small = await sales.post("/api/individuals/import", files=upload(csv_text(HEADER, ",,Sam,Small,,,TX")))
    assert small.status_code == 200 and small.json()["created"] == 1
    async with svc.runtime.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(IndividualImport)) == 1
    release.set()

    done = await finished(sales, job["id"])
    assert done["status"] == "done" and done["error"] is None and done["progress"] == 1
    assert {k: done[k] for k in COUNTS} == COUNTS
    assert done["total"] == done["created"] + done["updated"] + done["invalid"] + done["blank"] == done["rows_done"]
    assert await count_individuals(svc.runtime) == 2 + 1 + 2  # seeded, the small file, the job's creates

    # every row's outcome, a page at a time: lines and reasons, never the cells
    first = (await sales.get(f"/api/individual-imports/{job['id']}/results", params={"limit": 4})).json()
    rest = (await sales.get(f"/api/individual-imports/{job['id']}/results", params={"offset": 4})).json()
    assert first["total"] == 10 and first["next_offset"] == 4 and rest["next_offset"] is None
    assert outcomes(first["items"] + rest["items"]) == EXPECTED
    assert "222-33-4444" not in str(first) + str(rest)
    invalid = (await sales.get(f"/api/individual-imports/{job['id']}/results", params={"outcome": "invalid"})).json()
    assert [i["line"] for i in invalid["items"]] == [5, 6, 7, 9, 10, 12]

    # the invalid rows as CSV: PII masked without pii:reveal, formulas neutralised; revealed with it
    def rows_of(r) -> list[dict[str, str]]:
        assert r.status_code == 200, r.text
        return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    masked = rows_of(await sales.get(f"/api/individual-imports/{job['id']}/errors.csv"))
    assert [r["line"] for r in masked] == ["5", "6", "7", "9", "10", "12"]
    assert masked[0]["SSN"] == "*******4444" and masked[0]["Date of Birth"] == "*" * len("31/31/1960")
    assert masked[0]["errors"] == "dob: not a date" and masked[0]["First Name"] == "Bad"
    assert masked[-1]["First Name"] == "'=cmd|calc"
    assert "222-33-4444" not in str(masked) and "333-44-5555" not in str(masked)
    revealed = rows_of(await admin.get(f"/api/individual-imports/{job['id']}/errors.csv"))
    assert (revealed[0]["SSN"], revealed[-1]["SSN"]) == ("222-33-4444", "333-44-5555")

    # at rest the invalid rows' cells are encrypted; the stored file is gone once the job ended
    async with svc.runtime.db.session() as s:
        stored = (await s.execute(select(IndividualImportRow.cells_enc).where(
            IndividualImportRow.import_id == job["id"], IndividualImportRow.outcome == "invalid"))).scalars().all()
        job_row = await s.get(IndividualImport, job["id"])
    assert len(stored) == 6 and not any('"222-33-4444"' in c or '"Bad"' in c for c in stored)  # no plain JSON cells
    assert "222-33-4444" in svc.runtime.pii.decrypt(stored[0])
    assert job_row.stored_path is None and not list(imports.dir.glob(f"{job['id']}*"))

    # the synchronous import of the same file (a service with the default threshold) answers the same
    sync_svc = await start_service("intake")
    sync_client = sync_svc.as_user(token_for("sales"))
    sync = (await sync_client.post("/api/individuals/import", files=upload(big_file(*await seed(sync_client))))).json()
    assert {k: sync[k] for k in COUNTS} == COUNTS
    assert [(i["line"], i["outcome"], i["reasons"]) for i in sync["results"]] == EXPECTED

    # permissions as the import itself: individuals:edit
    assert (await clerk.post("/api/individuals/import", files=upload(data))).status_code == 403
    for path in ("", "/results", "/errors.csv"):
        assert (await clerk.get(f"/api/individual-imports/{job['id']}{path}")).status_code == 403
        assert (await sales.get(f"/api/individual-imports/nope{path}")).status_code == 404


async def test_job_resumes_after_a_restart_and_creates_nobody_twice(platform_env, databases, start_service,
                                                                     token_for) -> None:
    url = databases.new("intake")
    paused = asyncio.Event()
    async with run_service("intake", platform_env, url, **SMALL) as first:
        async def stop_here(_job_id: str, rows_done: int) -> None:
            paused.set()
            await asyncio.Event().wait()  # the service is stopped while the job waits here
        first.app.state.individual_imports.after_chunk = stop_here
        async with first.as_user(token_for("sales")) as client:
            a_id, b_id = await seed(client)
            r = await client.post("/api/individuals/import", files=upload(big_file(a_id, b_id)))
            assert r.status_code == 202, r.text
            job_id = r.json()["job"]["id"]
            await asyncio.wait_for(paused.wait(), 60)
            held = (await client.get(f"/api/individual-imports/{job_id}")).json()
    assert (held["status"], held["rows_done"], held["created"]) == ("running", 2, 1)

    # a new process on the same database resumes after the first chunk
    second = await start_service("intake", database_url=url, **SMALL)
    client = second.as_user(token_for("sales"))
    job = await finished(client, job_id)
    assert job["status"] == "done" and {k: job[k] for k in COUNTS} == COUNTS, job
    assert await count_individuals(second.runtime) == 2 + 2  # the seeded ones, then lines 3 and 11 once each
    items = (await client.get(f"/api/individual-imports/{job_id}/results")).json()["items"]
    assert outcomes(items) == EXPECTED  # the "already on line N" checks span the resume
    found = (await client.post("/api/individuals/search", json={"last_name": "one"})).json()
    assert found["total"] == 1

    # a finished job run again does nothing
    await second.app.state.individual_imports.run_job(job_id)
    assert await count_individuals(second.runtime) == 4


async def test_two_runners_of_one_job_write_each_chunk_once(start_service, token_for) -> None:
    """A second runner of the same job (another process resuming it) takes over; the first finds
    the resume point moved at its next chunk and stops without writing it."""
    svc = await start_service("intake", **SMALL)
    imports = svc.app.state.individual_imports
    paused, release = asyncio.Event(), asyncio.Event()

    async def hold_first_runner(_job_id: str, rows_done: int) -> None:
        if rows_done == 2 and not paused.is_set():
            paused.set()
            await release.wait()
    imports.after_chunk = hold_first_runner
    client = svc.as_user(token_for("sales"))
    a_id, b_id = await seed(client)
    job_id = (await client.post("/api/individuals/import", files=upload(big_file(a_id, b_id)))).json()["job"]["id"]
    await asyncio.wait_for(paused.wait(), 60)
    await imports.run_job(job_id)  # the second runner does the rest
    assert (await client.get(f"/api/individual-imports/{job_id}")).json()["status"] == "done"
    release.set()
    await eventually(lambda: not imports.runner.tasks, message="the first runner stopped")
    job = await finished(client, job_id)
    assert {k: job[k] for k in COUNTS} == COUNTS and await count_individuals(svc.runtime) == 4
    assert outcomes((await client.get(f"/api/individual-imports/{job_id}/results")).json()["items"]) == EXPECTED


async def test_a_file_that_is_not_about_individuals_fails_the_job(start_service, token_for, platform_env) -> None:
    svc = await start_service("intake", **SMALL)
    client = svc.as_user(token_for("sales"))
    r = await client.post("/api/individuals/import", files=upload(csv_text("a,b", "1,2", "3,4", "5,6", "7,8")))
    assert r.status_code == 202, r.text
    job = await finished(client, r.json()["job"]["id"])
    assert job["status"] == "failed" and job["error"] == "not an individuals file: no column names an individual field"
    assert job["rows_done"] == 0 and job["finished_at"]
    assert not list(Path(platform_env["AGENCY_DATA_DIR"]).rglob(f"{job['id']}*"))  # its file removed
    page = await client.get(job["page"])
    assert page.status_code == 200 and "The import failed" in page.text and "not an individuals file" in page.text
    # the same file at or below the threshold is refused at once, as before
    small = await client.post("/api/individuals/import", files=upload(csv_text("a,b", "1,2")))
    assert small.status_code == 422 and "not an individuals file" in small.json()["detail"]


def stat(page: str, name: str) -> int:
    m = re.search(rf'id="{name}">(\d+)<', page)
    assert m, name
    return int(m.group(1))


async def test_dashboard_form_job_page_and_results(start_service, token_for) -> None:
    svc = await start_service("intake", **SMALL)
    imports = svc.app.state.individual_imports
    paused, release = hold_after_first_chunk(imports)
    sales, clerk = svc.as_user(token_for("sales")), svc.as_user(token_for("clerk"))
    a_id, b_id = await seed(sales)

    form = (await sales.get("/individuals/import")).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    r = await sales.post("/individuals/import", files=upload(big_file(a_id, b_id)), data={"idempotency_key": key})
    assert r.status_code == 303, r.text
    page_url = r.headers["location"]
    assert re.fullmatch(r"/individuals/import/jobs/[0-9a-f-]{36}", page_url)
    await asyncio.wait_for(paused.wait(), 60)

    # while it runs: progress, a page that refreshes itself, the way back from the import page
    page = (await sales.get(page_url)).text
    assert 'http-equiv="refresh"' in page and stat(page, "job-rows-done") == 2 and "of 11 rows" in page
    assert "You may leave this page" in page
    assert page_url in (await sales.get("/individuals/import")).text
    # a second click on the same form: the same job
    again = await sales.post("/individuals/import", files=upload(big_file(a_id, b_id)), data={"idempotency_key": key})
    assert again.status_code == 303 and again.headers["location"] == page_url
    release.set()

    await finished(sales, page_url.rsplit("/", 1)[1])
    page = (await sales.get(page_url)).text
    assert 'http-equiv="refresh"' not in page
    assert [stat(page, f"import-{k}") for k in COUNTS] == list(COUNTS.values())
    assert "this individual is already on line 8 of this file" in page and "id: no individual has this id" in page
    assert "222-33-4444" not in page and "111-22-3333" not in page
    invalid_link = re.search(r'id="invalid-rows" href="([^"]+)"', page).group(1)
    assert invalid_link == f"{page_url}/invalid.csv"
    invalid = list(csv.DictReader(io.StringIO((await sales.get(invalid_link)).content.decode("utf-8-sig"))))
    assert [row["line"] for row in invalid] == ["5", "6", "7", "9", "10", "12"] and invalid[0]["SSN"] == "*******4444"
    results = list(csv.DictReader(io.StringIO((await sales.get(f"{page_url}/results.csv")).content.decode("utf-8-sig"))))
    assert [(int(row["line"]), row["outcome"]) for row in results] == [(line, o) for line, o, _ in EXPECTED]

    # the pages need individuals:edit
    for path in (page_url, f"{page_url}/invalid.csv", f"{page_url}/results.csv"):
        assert (await clerk.get(path)).status_code == 403
    assert (await sales.get("/individuals/import/jobs/nope")).status_code == 404
