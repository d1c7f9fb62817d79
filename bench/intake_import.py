"""Benchmark: importing a 100,000-line carrier statement against a book of 100,000 policies.

Runs on SQLite (default) or PostgreSQL (``--database postgresql``, 127.0.0.1:5432, trust auth).
Generates a CSV statement (half the lines match the book, a quarter of those only after
normalisation; the other half are new policies), loads the book straight into the policies table
(not measured), then measures in the same run:

- **floor**: reading the file with the csv module + inserting the same rows (every cell as text,
  plus the line number) into a scratch table with one ``executemany`` in one transaction;
- **parse + validate + match** in memory (the domain code alone, no database);
- **import**: the real background import (open, detect, header, validate, match, store in chunks,
  progress, completion event) — the figure compared with the floor;
- **create policies**: Create Policies on the unmatched lines as the background job runs it (one
  transaction: clients, policies, line updates, one PolicyCreated per policy, the session; the event
  loop handed back between chunks), with the same reader probe;
- **publish**: the statement and its lines in chunks to the outbox;
- **responsiveness**: while the import runs, a reader queries the database every 20 ms; the worst
  and 95th-percentile latencies are reported;
- **peak memory**: the process's peak RSS after each step (``ru_maxrss``; a high-water mark).

    .venv/bin/python bench/intake_import.py
    .venv/bin/python bench/intake_import.py --lines 100000 --policies 100000 --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The import reads the file in a child forked from a fork server; on CPython 3.11 each child imports
# this script again (the server is not given the main path), and needs none of what follows.
if __name__ == "__main__":
    from agency_common.db.engine import Database
    from agency_common.web.runtime import freeze_startup_objects
    from intake.app import create_app
    from intake.carriers.registry import CarrierIn, register_carrier
    from intake.models import Policy, Statement
    from intake.policy_sessions.schemas import CreatePoliciesRequest
    from intake.policy_sessions.usecases import create_policies
    from intake.settings import IntakeSettings
    from intake.statements.book import load_book
    from intake.statements.domain.mapping import MappingProfile
    from intake.statements.domain.reader import StatementParser
    from intake.statements.parse_worker import start_fork_server
    from intake.statements.publishing import publish_statement
    from sqlalchemy import Column, MetaData, Table, Text, func, insert, select

    from tests.support.inprocess import migrate

HEADER = ["Policy #", "Named Insured", "Trans Type", "Eff Date", "Exp Date", "LOB", "Premium", "Comm %", "Comm Amt",
          "Producer Code"]
TYPES = ["NBS", "RWL", "PCH", "XLC", "AUD", "INS"]


def latency_summary(latencies: list[float]) -> str:
    return (f"p95 {statistics.quantiles(latencies, n=20)[-1] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"({len(latencies)} queries)")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def new_database(kind: str, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'intake-bench'}.db", None
    import asyncpg

    name = f"bench_intake_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def drop_database(name: str | None) -> None:
    if name:
        import asyncpg

        conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def generate(path: Path, lines: int, policies: int, rng: random.Random) -> list[str]:
    book = [f"AC-{i:07d}" for i in range(policies)]
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write("Acme Insurance Company commission statement\r\nStatement period 2026-10\r\n\r\n")
        w = csv.writer(f)
        w.writerow(HEADER)
        for n in range(lines):
            if n % 2 == 0:
                number = book[rng.randrange(policies)]
                if n % 4 == 0:
                    number = number.lower().replace("-", " ")  # matched only after normalisation
            else:
                number = f"NEW-{n:07d}"
            premium = rng.randrange(-50_000, 500_000) / 100
            w.writerow([number, f"Insured {n % 40_000}, Jr.", rng.choice(TYPES), f"{rng.randrange(1, 13):02d}/15/2026",
                        "2027-01-15", "AUTOP", f"${premium:,.2f}" if premium >= 0 else f"({-premium:,.2f})",
                        "15%", f"{premium * 0.15:.2f}", f"P{n % 97}"])
    return book


async def floor(path: Path, db: Database) -> tuple[float, float, float]:
    """csv module read + one driver-level executemany of the same rows (every cell as text)."""
    meta = MetaData()
    cols = ["line_no", *(f"c{i}" for i in range(len(HEADER)))]
    scratch = Table("floor_lines", meta, *(Column(c, Text) for c in cols))
    async with db.engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f)):
            if len(row) == len(HEADER):
                rows.append((str(n + 1), *row))
    t_read = time.perf_counter() - t0
    async with db.transaction() as s:
        conn = await s.connection()
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql(f"INSERT INTO floor_lines VALUES ({', '.join('?' for _ in cols)})", rows)
        else:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.executemany(
                f"INSERT INTO floor_lines VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})", rows)
    total = time.perf_counter() - t0
    assert scratch is not None
    return t_read, total, time.process_time() - c0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=100_000)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--import-only", action="store_true", help="skip Create Policies and publish (shorter runs)")
    args = ap.parse_args()
    rng = random.Random(7)
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, pg_name = await new_database(args.database, tmp)
        try:
            await migrate("intake", url)
            path = tmp / "statement.csv"
            book = generate(path, args.lines, args.policies, rng)
            size_mb = path.stat().st_size / 1e6
            settings = IntakeSettings(database_url=url, data_dir=tmp / "data", kafka_bootstrap_servers="127.0.0.1:1",
                                      max_upload_bytes=512 * 1024 * 1024, log_json=True, log_level="WARNING",
                                      auto_publish_when_matched=False)  # publish is measured on its own
            app = create_app(settings)
            runtime, imports = app.state.runtime, app.state.imports
            db: Database = runtime.db
            now = datetime.now(UTC)
            rows = [{"id": str(uuid.uuid4()), "version": 1, "carrier": "Acme", "policy_number": n, "client_name": f"C {i}",
                     "status": "active", "created_by": "bench", "created_at": now, "updated_at": now}
                    for i, n in enumerate(book)]
            async with runtime.uow(actor="bench") as tx:  # uploads name a registered carrier
                await register_carrier(tx, CarrierIn(name="Acme"))
            async with db.transaction() as s:
                for i in range(0, len(rows), 10_000):
                    await s.execute(insert(Policy.__table__), rows[i:i + 10_000])
            del rows
            if db.dialect == "postgresql":  # a real book has planner statistics; a bulk-loaded one not yet
                async with db.engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE policies")
            start_fork_server()  # as the service does at start-up
            freeze_startup_objects()  # as the service does once started (the floor runs after it too)
            print(f"book: {args.policies} policies; statement: {args.lines} lines, {size_mb:.1f} MB; {args.database}")
            rss0 = rss_mb()

            t_read, t_floor, cpu_floor = await floor(path, db)
            results["floor: csv read"] = f"{args.lines / t_read:,.0f} rows/s ({t_read:.2f} s)"
            results["floor: csv read + one executemany"] = f"{args.lines / t_floor:,.0f} rows/s ({t_floor:.2f} s)"

            async with db.session() as s:
                t0 = time.perf_counter()
                book = await load_book(s, "Acme", MappingProfile())
                t_index = time.perf_counter() - t0
            results["load book into the match index"] = f"{args.policies / t_index:,.0f} policies/s ({t_index:.2f} s)"
            from agency_common.tabular import open_table

            t0 = time.perf_counter()
            _info, table_rows = open_table(path, "statement.csv")
            parser = StatementParser(MappingProfile())
            parser.find_header(table_rows)
            while (batch := parser.columnar_batch("x", table_rows, 10_000, book))[0] is not None or batch[1]:
                pass
            t_parse = time.perf_counter() - t0
            results["parse + validate + match (memory only)"] = f"{args.lines / t_parse:,.0f} rows/s ({t_parse:.2f} s)"
            del parser, book
            rss1 = rss_mb()

            with path.open("rb") as f:
                st = await imports.store_upload(f, "statement.csv", "Acme", "bench")
            latencies: list[float] = []
            done = asyncio.Event()

            async def reader() -> None:
                while not done.is_set():
                    t = time.perf_counter()
                    async with db.session() as s:
                        await s.scalar(select(func.count()).select_from(Statement))
                    latencies.append(time.perf_counter() - t)
                    await asyncio.sleep(0.02)
            probe = asyncio.create_task(reader())
            t0, c0 = time.perf_counter(), time.process_time()
            await imports.process(st.id)
            t_import, cpu_import = time.perf_counter() - t0, time.process_time() - c0
            done.set()
            await probe
            async with db.session() as s:
                st = await s.get(Statement, st.id)
            assert st is not None and st.status == "imported", st.error if st else None
            assert st.total == st.valid + st.invalid + st.blank == args.lines
            results["import (detect, validate, match, store, progress)"] = (
                f"{args.lines / t_import:,.0f} rows/s ({t_import:.2f} s); matched {st.matched}, unmatched {st.unmatched}")
            results["import / floor"] = f"{t_import / t_floor:.2f}x"
            # how much the import adds to the parse alone, in the same run (less moved by the load)
            results["import / parse in memory (same run)"] = f"{t_import / t_parse:.2f}x"
            # CPU seconds (steadier than wall time on a shared machine): this process's threads and the
            # reading process (a child of the fork server, not of this process); on PostgreSQL the
            # server's own work is not in it
            cpu_reading = getattr(imports, "last_reading_cpu_seconds", 0.0)
            results["import / floor, CPU time (this process + the reading process)"] = (
                f"{(cpu_import + cpu_reading) / cpu_floor:.2f}x ({cpu_import:.2f} s + {cpu_reading:.2f} s / {cpu_floor:.2f} s)")
            results["reader latency during import"] = latency_summary(latencies)
            rss2 = rss_mb()

            if args.import_only:
                results["peak RSS (MB): after book load / parse / import"] = f"{rss0:.0f} / {rss1:.0f} / {rss2:.0f}"
            else:
                latencies.clear()
                done.clear()
                probe = asyncio.create_task(reader())
                t0 = time.perf_counter()
                # as the background job runs it (the getattr: the bench also runs against older code)
                chunked = {"chunk": settings.create_policies_chunk} if hasattr(settings, "create_policies_chunk") else {}
                async with runtime.uow(actor="bench") as tx:
                    session, _ = await create_policies(tx, st.id, CreatePoliciesRequest(
                        idempotency_key=str(uuid.uuid4()), defaults={"line_of_business": "Personal Auto"}), **chunked)
                t_create = time.perf_counter() - t0
                done.set()
                await probe
                results["create policies (one session, one transaction)"] = (
                    f"{session.count / t_create:,.0f} policies/s ({session.count} in {t_create:.2f} s)")
                results["reader latency during create policies"] = latency_summary(latencies)
                rss3 = rss_mb()

                t0 = time.perf_counter()
                async with runtime.uow(actor="bench") as tx:
                    await publish_statement(tx, st.id, exclude_unmatched=False)
                t_pub = time.perf_counter() - t0
                results["publish statement + line chunks to the outbox"] = f"{args.lines / t_pub:,.0f} lines/s ({t_pub:.2f} s)"
                rss4 = rss_mb()
                results["peak RSS (MB): after book load / parse / import / create / publish"] = (
                    f"{rss0:.0f} / {rss1:.0f} / {rss2:.0f} / {rss3:.0f} / {rss4:.0f}")
            await db.dispose()
        finally:
            await drop_database(pg_name)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n| step ({args.database}, {date.today()}, load average {load}) | result |\n| --- | --- |")
    for k, v in results.items():
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    asyncio.run(main())
