"""Sales records on the dashboard: the list (filter by type and job, pages), a record's page (its
copied fields, type, individual, assigned user, status; PII masked unless the user may reveal it)
and Convert to Individual with its audit entry. And a job observed while it runs: progress from
the job row, on the API and on the page an operator comes back to."""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid

from tests.support.inprocess import eventually

PEOPLE = "First Name,Last Name,State,SSN,Secondary Email,Servicing Agent,Servicing Agent User,custom:dropdown:Plan,custom:currency:Income\r\n"


async def _import(client, rows: list[str]) -> None:
    r = await client.post("/api/individuals/import", files={
        "file": ("p.csv", (PEOPLE + "".join(f"{row}\r\n" for row in rows)).encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["invalid"] == 0, r.text


async def _run_job(client, criteria: dict, record_type: str = "Medicare") -> dict:
    r = await client.post("/api/sales-record-jobs", json={"idempotency_key": str(uuid.uuid4()),
                                                          "sales_record_type": record_type, "criteria": criteria})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    async def done() -> dict | None:
        j = (await client.get(f"/api/sales-record-jobs/{job_id}")).json()
        return j if j["status"] == "done" else None
    return await eventually(done, message="sales-record job done")


def _text(page: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert m, element_id
    return m.group(1).strip()


async def test_sales_record_pages_and_convert(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        await _import(sales, ["Ann,Lee,TX,123-45-6789,ann@example.com,Agent A,agent.a,Gold,1000"]
                      + [f"P{n:02d},Many,FL,,,,,," for n in range(52)])
        one = await _run_job(sales, {"state": "TX"}, "ACA")
        bulk = await _run_job(sales, {"state": "FL"})
        assert (one["created"], bulk["created"]) == (1, 52)

        # the job page links to its records; the list filters by job and type and has pages
        job_page = (await sales.get(f"/sales-record-jobs/{bulk['id']}")).text
        assert f'href="/sales-records?job_id={bulk["id"]}"' in job_page
        listing = (await sales.get("/sales-records", params={"job_id": bulk["id"]})).text
        assert _text(listing, "sales-total") == "52 sales records" and "52 sales records: 1–50" in listing
        assert listing.count('href="/sales-records/') == 50
        second = (await sales.get("/sales-records", params={"job_id": bulk["id"], "page": 2})).text
        assert second.count('href="/sales-records/') == 2 and "Previous" in second
        by_type = (await sales.get("/sales-records", params={"sort": "sales_record_type"})).text
        rows = by_type.split('id="sales-records"')[1]
        assert rows.index("<td>ACA</td>") < rows.index("<td>Medicare</td>"), "sorted by its header"
        newest = (await sales.get("/sales-records", params={"sort": "-sales_record_type"})).text
        assert "<td>ACA</td>" not in newest.split('id="sales-records"')[1], "ACA last: on the second page"
        assert f'href="?job_id={bulk["id"]}&amp;sort=created_at&amp;offset=50&amp;limit=50">Next</a>' in listing
        typed = (await sales.get("/sales-records", params={"sales_record_type": "ACA"})).text
        assert _text(typed, "sales-total") == "1 sales records" and "Lee, Ann" in typed
        assert "*******6789" in typed and "123-45-6789" not in typed

        rec = (await sales.get("/api/sales-records", params={"job_id": one["id"]})).json()["items"][0]
        page = (await sales.get(f"/sales-records/{rec['id']}")).text
        assert (_text(page, "rec-type"), _text(page, "rec-status"), _text(page, "rec-assigned")) == ("ACA", "open", "agent.a")
        assert f'href="/individuals/{rec["individual_id"]}"' in page and _text(page, "rec-individual") == "Lee, Ann"
        assert _text(page, "f-ssn") == "*******6789" and "123-45-6789" not in page
        assert _text(page, "f-secondary_email") == "ann@example.com" and "Gold" in page and "Income" not in page
        assert "Convert to Individual" in page and "Not converted yet" in page
        assert _text((await admin.get(f"/sales-records/{rec['id']}")).text, "f-ssn") == "123-45-6789"
        reveals = (await admin.get("/api/audit", params={"action": "pii.revealed"})).json()["items"]
        assert [(r["subject_id"], r["detail"]["shown_in"]) for r in reveals] == [(rec["individual_id"], "sales_records")]

        # Convert to Individual: the record's values fill the individual's empty fields, the
        # individual keeps its own where both differ; the page shows who, when and what changed
        await sales.patch(f"/api/sales-records/{rec['id']}", json={"cell_phone": "555-0100", "first_name": "Annie"})
        r = await sales.post(f"/sales-records/{rec['id']}/convert-to-individual")
        assert r.status_code == 303
        page = (await sales.get(r.headers["location"])).text
        assert _text(page, "rec-status") == "converted" and "Converted:" in page
        row = re.search(r'<table id="conversions">.*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
        assert "sales" in row and "Cell Phone" in row and "First Name" in row
        ind = (await admin.get(f"/api/individuals/{rec['individual_id']}")).json()
        assert (ind["cell_phone"], ind["first_name"]) == ("555-0100", "Ann")
        person = (await sales.get(f"/individuals/{rec['individual_id']}")).text
        assert "convert to individual" in person and f'href="/sales-records/{rec["id"]}"' in person

    async with intake.as_user(token_for("clerk")) as clerk:  # no sales_enablement:view
        assert (await clerk.get("/sales-records")).status_code == 403
        assert (await clerk.get(f"/sales-records/{rec['id']}")).status_code == 403
        assert (await clerk.post(f"/sales-records/{rec['id']}/convert-to-individual")).status_code == 403
    async with intake.as_user(token_for("viewer")) as viewer:
        assert (await viewer.get(f"/individuals/{rec['individual_id']}")).status_code == 403
        r = await viewer.post("/individuals/saved-searches", data={"search_name": "x", "state": "TX"})
        assert r.status_code == 403 and "searches:save" in r.text


async def test_a_running_job_shows_its_progress(start_service, token_for) -> None:
    intake = await start_service("intake")
    worker = intake.app.state.sales_jobs
    async with intake.as_user(token_for("sales")) as sales:
        await _import(sales, [f"P{n},Run,{'TX' if n < 2 else 'FL'},,,,,," for n in range(6)])
        await _run_job(sales, {"state": "TX"})  # two of the six already have a sales record

        # hold the job after each chunk of two until the test has looked at it
        worker.chunk_size = 2
        progressed: asyncio.Queue[int] = asyncio.Queue()
        go: asyncio.Queue[None] = asyncio.Queue()

        async def hold(_job_id: str, done: int) -> None:
            await progressed.put(done)
            await go.get()
        worker.after_chunk = hold

        r = await sales.post("/api/sales-record-jobs", json={"idempotency_key": "k", "sales_record_type": "Medicare",
                                                             "criteria": {"last_name": "Run"}})
        job_id = r.json()["id"]
        seen = []
        for expected in (2, 4, 6):
            assert await asyncio.wait_for(progressed.get(), 60) == expected
            job = (await sales.get(f"/api/sales-record-jobs/{job_id}")).json()
            assert (job["status"], job["total"], job["created"] + job["skipped"]) == ("running", 6, expected)
            seen.append((job["created"], job["skipped"]))
            # the operator left and comes back: the page shows the progress kept on the job row
            page = (await sales.get(f"/sales-record-jobs/{job_id}")).text
            assert _text(page, "job-status") == "running" and _text(page, "job-done") == str(expected)
            assert f'value="{expected}"' in page and 'max="6"' in page and 'http-equiv="refresh"' in page
            await go.put(None)
        assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(seen))

        async def done() -> dict | None:
            j = (await sales.get(f"/api/sales-record-jobs/{job_id}")).json()
            return j if j["status"] == "done" else None
        job = await eventually(done, message="job done")
        assert (job["total"], job["created"], job["skipped"], job["failed"]) == (6, 4, 2, 0)
        page = (await sales.get(f"/sales-record-jobs/{job_id}")).text
        assert _text(page, "job-status") == "done" and 'http-equiv="refresh"' not in page
