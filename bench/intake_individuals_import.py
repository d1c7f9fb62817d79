"""Benchmark: importing individuals from a CSV file as a background job (intake).

A file of N data rows (default 100,000): a tenth of them update individuals already in the book (by
External ID), 2 % are invalid (a bad date of birth), 1 % blank, the rest create new individuals with
an SSN and a date of birth (encrypted at rest). The real path: ``IndividualImports.submit`` counts the
rows, queues the job and the job runner reads, validates and writes it chunk by chunk, each chunk one
transaction with its rows' outcomes. Printed: rows/s of the job, the time to answer the request
(count + queue), the event loop's worst lag while the job runs (the reason it runs in the background:
the service keeps answering), and the floor measured in the same run: reading the same file with the
csv module and inserting the same number of rows into a scratch table with one driver executemany.

    .venv/bin/python bench/intake_individuals_import.py [--rows 100000] [--database postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

HEADER = ["External ID", "First Name", "Last Name", "SSN", "Date of Birth", "State", "Primary Email"]
EXISTING = 10_000  # individuals in the book before the import (a tenth of the rows update them)


def write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for n in range(rows):
            if n % 100 == 0:
                w.writerow([""] * len(HEADER))
            elif n % 50 == 1:
                w.writerow([f"NEW-{n}", f"F{n}", f"L{n}", "", "31/31/1960", "TX", ""])
            elif n % 10 == 2:
                w.writerow([f"OLD-{n // 10 % EXISTING}", "", "", "", "", "FL", f"new{n}@example.com"])
            else:
                w.writerow([f"NEW-{n}", f"F{n}", f"L{n}", f"123-45-{n % 10_000:04d}", "1950-02-03", "TX",
                            f"p{n}@example.com"])


async def lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - t - 0.01)


async def floor(rt, path: Path, rows: int) -> float:
    from sqlalchemy import text

    t = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f:
        read = list(csv.reader(f))
    values = [(str(uuid.uuid4()), *r) for r in read[1:rows + 1]]
    async with rt.db.transaction() as s:
        await s.execute(text("CREATE TABLE floor_individuals (id text, a text, b text, c text, d text, e text, "
                             "f text, g text)"))
        conn = await s.connection()
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("INSERT INTO floor_individuals VALUES (?,?,?,?,?,?,?,?)", values)
        else:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.executemany(
                "INSERT INTO floor_individuals VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", values)
    return time.perf_counter() - t


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--profile", action="store_true", help="cProfile the job, print the top 30")
    args = ap.parse_args()

    from agency_common.pii import PiiCipher
    from intake.app import create_app
    from intake.models import Individual, IndividualImport
    from intake.settings import IntakeSettings
    from intake_import import drop_database, new_database
    from sqlalchemy import insert

    from tests.support.inprocess import migrate

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, pg_name = await new_database(args.database, tmp)
        try:
            await migrate("intake", url)
            app = create_app(IntakeSettings(database_url=url, data_dir=tmp / "d", kafka_bootstrap_servers="127.0.0.1:1",
                                            pii_keys=PiiCipher.generate_key(), log_level="WARNING"))
            rt, imports = app.state.runtime, app.state.individual_imports
            now = datetime.now(UTC)
            async with rt.db.transaction() as s:
                await s.execute(insert(Individual.__table__), [
                    {"id": str(uuid.uuid4()), "version": 1, "external_id": f"OLD-{i}", "first_name": f"O{i}",
                     "last_name": f"Old{i}", "state": "TX", "record_status": "active", "custom_fields": "[]",
                     "created_by": "bench", "created_at": now, "updated_at": now} for i in range(EXISTING)])
            source = tmp / "individuals.csv"
            write_file(source, args.rows)
            upload = tmp / "upload.csv"
            shutil.copy(source, upload)

            stop, lags = asyncio.Event(), []
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            t0 = time.perf_counter()
            out = await imports.submit(str(upload), "individuals.csv", "bench")
            t_answer = time.perf_counter() - t0
            probe = asyncio.create_task(lag_probe(stop, lags))
            await imports.runner.tasks[out["job"]["id"]]
            t_job = time.perf_counter() - t0
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            stop.set()
            await probe
            async with rt.db.session() as s:
                job = await s.get(IndividualImport, out["job"]["id"])
            assert job is not None and job.status == "done", job.error if job else None
            t_floor = await floor(rt, source, args.rows)
            lags.sort()
            print(f"individuals import, {args.rows:,} rows, {args.database}")
            print(f"| request answered (rows counted, job queued) | {t_answer:.2f} s |")
            print(f"| background job: {job.created:,} created, {job.updated:,} updated, {job.invalid:,} invalid, "
                  f"{job.blank:,} blank | {t_job:.1f} s, {args.rows / t_job:,.0f} rows/s |")
            print(f"| event loop lag while it runs | p99 {lags[int(len(lags) * 0.99)] * 1000:.0f} ms, "
                  f"max {lags[-1] * 1000:.0f} ms |")
            print(f"| floor: csv module + one executemany | {t_floor:.2f} s; job / floor {t_job / t_floor:.1f}x |")
            await rt.db.dispose()
        finally:
            await drop_database(pg_name)


if __name__ == "__main__":
    asyncio.run(main())
