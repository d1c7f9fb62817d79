"""Benchmark: Create Policies of a 50,000-line statement against one ``executemany`` of the same rows.

Runs on SQLite (default) or PostgreSQL (``--database postgresql``, 127.0.0.1:5432, trust auth).
Imports a statement whose lines are all new policies (not measured), then measures in the same run:

- **create policies**: ``create_policies`` as the background job runs it (one transaction: clients,
  individuals, policies, terms, line updates, the events, the session; chunks of
  ``create_policies_chunk`` with the event loop handed back between them);
- **floor**: the policy, client and outbox rows that run wrote, read back as stored, inserted into a
  second, freshly migrated database of the same schema with one driver-level ``executemany`` per
  table, in one transaction. Measured before and after Create Policies (the median of the runs is
  the floor); the goal (issue 17) is create ≤ 5 × floor.

    .venv/bin/python bench/create_policies.py
    .venv/bin/python bench/create_policies.py --lines 50000 --database postgresql
    .venv/bin/python bench/create_policies.py --profile /tmp/cp.svg   # needs py-spy in the venv
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The import reads the file in a child forked from a fork server; on CPython 3.11 each child imports
# this script again (the server is not given the main path), and needs none of what follows.
if __name__ == "__main__":
    from agency_common.db.engine import Database
    from agency_common.web.runtime import freeze_startup_objects
    from intake.app import create_app
    from intake.carriers.registry import CarrierIn, register_carrier
    from intake.models import Statement
    from intake.policy_sessions.schemas import CreatePoliciesRequest
    from intake.policy_sessions.usecases import create_policies
    from intake.settings import IntakeSettings
    from intake.statements.parse_worker import start_fork_server

    from tests.support.inprocess import migrate

HEADER = ["Policy #", "Named Insured", "Trans Type", "Eff Date", "Exp Date", "LOB", "Premium", "Comm %", "Comm Amt"]
TYPES = ["NBS", "RWL", "PCH", "AUD", "INS"]
FLOOR_TABLES = ("clients", "policies", "outbox")


def time_statements() -> dict[str, list[float]]:
    """Wall time per SQL statement shape spent in ``AsyncSession.execute`` (``--sql-times``)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    spent: dict[str, list[float]] = {}
    original = AsyncSession.execute

    async def execute(self: Any, statement: Any, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await original(self, statement, *a, **kw)
        finally:
            entry = spent.setdefault(" ".join(str(statement).split())[:90], [0.0, 0])
            entry[0] += time.perf_counter() - t0
            entry[1] += 1

    AsyncSession.execute = execute  # type: ignore[method-assign]
    return spent


def letters(n: int) -> str:
    """A name part without digits (a name with digits is an organisation's)."""
    return "".join(chr(ord("a") + int(d)) for d in str(n)).title()


def generate(path: Path, lines: int, rng: random.Random) -> None:
    """Every line a new policy; insureds repeat (about 4 clients for 5 lines), people (who become
    individuals too) and one organisation in ten."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for n in range(lines):
            who = n % (lines * 4 // 5)
            name = f"Holder {letters(who)}" if n % 10 else f"Holder {who} Holdings LLC"
            premium = rng.randrange(1_000, 500_000) / 100
            w.writerow([f"NEW-{n:07d}", name, rng.choice(TYPES), f"{rng.randrange(1, 13):02d}/15/2026", "2027-01-15",
                        "AUTOP", f"{premium:.2f}", "15%", f"{premium * 0.15:.2f}"])


async def new_database(kind: str, tmp: Path, label: str, created: list[str]) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / label}.db"
    import asyncpg

    name = f"bench_cp_{label}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    created.append(name)
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_databases(names: list[str]) -> None:
    if names:
        import asyncpg

        conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def stored_rows(db: Database, session_id: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The rows Create Policies wrote to the floor's tables, as the driver returns them (stored form)."""
    out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    where = {"policies": f"WHERE session_id = '{session_id}'",
             "clients": "WHERE id IN (SELECT client_id FROM policies WHERE session_id = "
                        f"'{session_id}') AND created_by = 'bench'",
             "outbox": ""}
    async with db.engine.connect() as conn:
        for table in FLOOR_TABLES:
            result = await conn.exec_driver_sql(f"SELECT * FROM {table} {where[table]}")
            out[table] = (list(result.keys()), [tuple(r) for r in result.all()])
    return out


async def floor(db: Database, rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> tuple[float, float]:
    """One driver-level executemany per table, in one transaction (emptied first, not timed)."""
    async with db.engine.begin() as conn:
        for table in reversed(FLOOR_TABLES):
            await conn.exec_driver_sql(f"DELETE FROM {table}")
    t0, c0 = time.perf_counter(), time.process_time()
    async with db.engine.begin() as conn:
        for table in FLOOR_TABLES:
            cols, values = rows[table]
            if conn.dialect.name == "sqlite":
                await conn.exec_driver_sql(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", values)
            else:
                raw = await conn.get_raw_connection()
                await raw.driver_connection.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})",
                    values)
    return time.perf_counter() - t0, time.process_time() - c0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=50_000)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--profile", help="write a py-spy profile of Create Policies (idle included) to this "
                    "file: a flame graph, or collapsed stacks for a .txt name")
    ap.add_argument("--sql-times", action="store_true", help="print the time spent per SQL statement shape")
    args = ap.parse_args()
    spent = time_statements() if args.sql_times else {}
    rng = random.Random(17)
    created: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        try:
            url = await new_database(args.database, tmp, "intake", created)
            floor_url = await new_database(args.database, tmp, "floor", created)
            await migrate("intake", url)
            await migrate("intake", floor_url)
            path = tmp / "statement.csv"
            generate(path, args.lines, rng)
            settings = IntakeSettings(database_url=url, data_dir=tmp / "data", kafka_bootstrap_servers="127.0.0.1:1",
                                      max_upload_bytes=512 * 1024 * 1024, log_json=True, log_level="WARNING",
                                      auto_publish_when_matched=False)
            app = create_app(settings)
            runtime, imports = app.state.runtime, app.state.imports
            db: Database = runtime.db
            floor_db = Database(floor_url)
            async with runtime.uow(actor="bench") as tx:
                await register_carrier(tx, CarrierIn(name="Acme"))
            start_fork_server()
            freeze_startup_objects()
            with path.open("rb") as f:
                st = await imports.store_upload(f, "statement.csv", "Acme", "bench")
            await imports.process(st.id)
            async with db.session() as s:
                st = await s.get(Statement, st.id)
            assert st is not None and st.status == "imported" and st.unmatched == args.lines, st
            if db.dialect == "postgresql":  # as autovacuum would have done for a running system
                async with db.engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE")
            async with db.engine.begin() as conn:  # the import's own events are not Create Policies'
                await conn.exec_driver_sql("DELETE FROM outbox")

            spy = None
            if args.profile:
                raw = ["--format", "raw"] if args.profile.endswith(".txt") else []  # collapsed stacks
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).parent / "py-spy"), "record", "-r", "50", "--idle", *raw,
                    "-o", args.profile, "-p", str(os.getpid()))
                await asyncio.sleep(1.0)
            load_before = os.getloadavg()[0]
            spent.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            async with runtime.uow(actor="bench") as tx:
                session, _ = await create_policies(tx, st.id, CreatePoliciesRequest(
                    idempotency_key=str(uuid.uuid4()), defaults={"line_of_business": "Personal Auto"}),
                    chunk=settings.create_policies_chunk)
            t_create, cpu_create = time.perf_counter() - t0, time.process_time() - c0
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
            assert session.count == args.lines, session.count
            for shape, (seconds, calls) in sorted(spent.items(), key=lambda kv: -kv[1][0])[:15]:
                print(f"{seconds:8.2f} s {calls:6d}x  {shape}")

            rows = await stored_rows(db, session.id)
            floors = [await floor(floor_db, rows) for _ in range(3)]
            t_floor = statistics.median(f[0] for f in floors)
            cpu_floor = statistics.median(f[1] for f in floors)
            counts = {t: len(rows[t][1]) for t in FLOOR_TABLES}
            await floor_db.dispose()
            await db.dispose()
        finally:
            await drop_databases(created)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n| Create Policies, {args.lines:,} lines ({args.database}, {date.today()}, load {load_before:.1f} → "
          f"{load}) | result |\n| --- | --- |")
    print(f"| create policies (one transaction) | {t_create:.2f} s ({session.count / t_create:,.0f} policies/s) |")
    print(f"| floor: one executemany each of {counts['policies']:,} policies, {counts['clients']:,} clients, "
          f"{counts['outbox']:,} outbox rows | {t_floor:.2f} s (runs {', '.join(f'{f:.2f}' for f, _ in floors)}) |")
    print(f"| create / floor | **{t_create / t_floor:.2f}x** |")
    # CPU seconds of this process (all its threads: SQLite runs in aiosqlite's), steadier than wall time
    # on a shared machine; on PostgreSQL the server's own work is not in it
    print(f"| create / floor, CPU time of this process | {cpu_create / cpu_floor:.2f}x "
          f"({cpu_create:.2f} s / {cpu_floor:.2f} s) |")


if __name__ == "__main__":
    asyncio.run(main())
