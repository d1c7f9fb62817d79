"""Exports off the event loop (issue 19, item 10): a 100,000-row CSV export stalled the loop (healthz p95
1.9 s). ``csv_bytes_paged`` builds each page in a worker thread, lazy rows included, so other requests
are answered while an export streams."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from agency_common.tabular import csv_bytes_paged

ROWS = 100_000


async def test_a_large_page_is_built_while_the_loop_runs_other_work() -> None:
    """A page of 100,000 lazily built rows and no await of its own: the loop still runs a ticker while
    the page becomes CSV (on the loop it could not: nothing in the export would ever suspend)."""
    built = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal built
        for i in range(ROWS):
            built += 1
            yield [f"P-{i}", "=1+1", i]

    async def pages() -> AsyncIterator[Iterator[list[Any]]]:
        yield rows()

    seen_mid_export: list[int] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            if 0 < built < ROWS:
                seen_mid_export.append(built)
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    out = b"".join([chunk async for chunk in csv_bytes_paged(["policy", "formula", "n"], pages())])
    stop.set()
    await task
    assert seen_mid_export, "the loop ran nothing else while the rows were built"
    lines = list(csv.reader(io.StringIO(out.decode("utf-8-sig"))))
    assert len(lines) == ROWS + 1 and lines[1] == ["P-0", "'=1+1", "0"] and lines[-1][0] == f"P-{ROWS - 1}"


async def test_healthz_answers_while_a_large_individuals_export_streams(start_service, token_for) -> None:
    from intake.models import Individual

    intake = await start_service("intake")
    count = 10_000
    now = datetime.now(UTC)
    ssn = intake.runtime.pii.encrypt("123-45-6789")  # one token for all: the export decrypts each row
    async with intake.runtime.db.session() as session:
        for start in range(0, count, 5000):
            await session.execute(Individual.__table__.insert(), [
                {"id": f"ind-{i:06d}", "version": 1, "first_name": "Ann", "last_name": f"Lee {i:06d}",
                 "ssn_enc": ssn, "custom_fields": "[]", "created_by": "test", "created_at": now,
                 "updated_at": now} for i in range(start, min(start + 5000, count))])
        await session.commit()

    async with intake.as_user(token_for("admin")) as admin:
        export = asyncio.create_task(admin.post("/api/individuals/search.csv", json={}))
        answered_during_export = 0
        while not export.done():
            health = await intake.client.get("/healthz")
            assert health.status_code == 200
            answered_during_export += not export.done()
            await asyncio.sleep(0.05)  # a probe's pace, not a wait for anything
        body = (await export).text
    assert answered_during_export > 0, "no /healthz was answered before the export finished"
    lines = body.lstrip("\ufeff").splitlines()
    assert len(lines) == count + 1 and lines[1].startswith("ind-000000,Ann,") and "6789" in lines[1]
