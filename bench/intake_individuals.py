"""Benchmark: Individual Advanced Search and mass creation of sales records (issue 4).

200,000 individuals (clients of policies) with 400,000 policies, loaded straight into the tables
(not measured). Then, on SQLite (default) or PostgreSQL (``--database postgresql``):

- a search with two policy filters (coverage type + effective-date range), count + first page of
  50 sorted by last name: median and worst of ``--repeat`` runs (the aim: within 300 ms);
- mass creation of sales records for every individual a search finds (~100,000): the real job
  (chunks of 1,000, one ``SalesRecordCreated`` event each, progress), in records/s, and the ratio
  to inserting the same rows with one driver-level ``executemany`` measured in the same run.

    .venv/bin/python bench/intake_individuals.py
    .venv/bin/python bench/intake_individuals.py --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from agency_common.pii import PiiCipher
from intake.app import create_app
from intake.individuals.queries import search
from intake.individuals.schemas import SearchCriteria
from intake.models import Individual, Policy, SalesRecordJob
from intake.settings import IntakeSettings
from intake_import import drop_database, new_database
from sqlalchemy import insert, text

from tests.support.inprocess import migrate

LOBS = ["AUTO", "HOME", "LIFE", "MEDSUPP", "MAPD", "UMB", "BOAT", "RENT"]
STATES = ["TX", "FL", "CA", "NY", "OH", "GA", "IL", "PA"]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--individuals", type=int, default=200_000)
    ap.add_argument("--policies", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--profile", action="store_true", help="cProfile the mass creation, print the top 25")
    args = ap.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, pg_name = await new_database(args.database, tmp)
        try:
            await migrate("intake", url)
            app = create_app(IntakeSettings(database_url=url, data_dir=tmp / "d", kafka_bootstrap_servers="127.0.0.1:1",
                                            pii_keys=PiiCipher.generate_key(), log_level="WARNING"))
            rt, jobs = app.state.runtime, app.state.sales_jobs
            now = datetime.now(UTC)
            t0 = time.perf_counter()
            inds, pols = [], []
            for i in range(args.individuals):
                inds.append({"id": str(uuid.uuid4()), "version": 1, "client_id": f"c{i:07d}", "first_name": f"F{i % 997}",
                             "last_name": f"L{rng.randrange(50_000):05d}", "state": rng.choice(STATES),
                             "record_status": "active", "servicing_agent": f"A{i % 50}",
                             "servicing_agent_user": f"user{i % 50}" if i % 2 else None,
                             "custom_fields": json.dumps([{"name": "Plan", "type": "dropdown", "value": "Gold"},
                                                          {"name": "Income", "type": "currency", "value": "10"}]),
                             "created_by": "bench", "created_at": now, "updated_at": now})
            for n in range(args.policies):
                eff = date(2025, 1, 1) + timedelta(days=rng.randrange(730))
                pols.append({"id": str(uuid.uuid4()), "version": 1, "carrier": "Acme", "policy_number": f"P{n:08d}",
                             "client_id": f"c{rng.randrange(args.individuals):07d}", "client_name": "x",
                             "line_of_business": rng.choice(LOBS), "status": "active", "effective_date": eff,
                             "expiration_date": eff + timedelta(days=365), "created_by": "bench",
                             "created_at": now, "updated_at": now})
            async with rt.db.transaction() as s:
                for i in range(0, len(inds), 20_000):
                    await s.execute(insert(Individual.__table__), inds[i:i + 20_000])
                for i in range(0, len(pols), 20_000):
                    await s.execute(insert(Policy.__table__), pols[i:i + 20_000])
            if args.database == "postgresql":
                async with rt.db.engine.connect() as conn:
                    await conn.execute(text("ANALYZE"))
                    await conn.commit()
            else:
                async with rt.db.transaction() as s:
                    await s.execute(text("ANALYZE"))
            print(f"loaded {args.individuals} individuals, {args.policies} policies in {time.perf_counter() - t0:.1f} s "
                  f"({args.database})")
            del pols

            c = SearchCriteria(policy_line_of_business="AUTO", policy_effective_from=date(2025, 3, 1),
                               policy_effective_to=date(2025, 8, 31))
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                async with rt.db.session() as s:
                    total, _rows = await search(s, c, sort="last_name", limit=50)
                times.append(time.perf_counter() - t)
            print(f"| search, two policy filters ({total} found; count + first 50 by last name) | "
                  f"median {statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms |")

            wide = SearchCriteria(policy_effective_from=date(2025, 1, 1), policy_effective_to=date(2025, 12, 31))
            async with rt.db.session() as s:
                total, _ = await search(s, wide, limit=1)
            # floor: the same number of rows into a scratch table with one driver-level executemany
            floor_rows = [(str(uuid.uuid4()), inds[i]["id"], "Medicare", None, "{}", "[]", "j", "bench", now.isoformat())
                          for i in range(total)]
            async with rt.db.transaction() as s:
                await s.execute(text("CREATE TABLE floor_sales (id text, individual_id text, t text, a text, f text, "
                                     "c text, j text, b text, at text)"))
            t = time.perf_counter()
            async with rt.db.transaction() as s:
                conn = await s.connection()
                if conn.dialect.name == "sqlite":
                    await conn.exec_driver_sql("INSERT INTO floor_sales VALUES (?,?,?,?,?,?,?,?,?)", floor_rows)
                else:
                    raw = await conn.get_raw_connection()
                    await raw.driver_connection.executemany(
                        "INSERT INTO floor_sales VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)", floor_rows)
            t_floor = time.perf_counter() - t
            job = SalesRecordJob(idempotency_key="bench", criteria=wide.model_dump_json(exclude_none=True),
                                 sales_record_type="Medicare", created_by="bench")
            async with rt.db.transaction() as s:
                s.add(job)
            profiler = cProfile.Profile() if args.profile else None
            t = time.perf_counter()
            if profiler:
                profiler.enable()
            await jobs.process(job.id)
            t_job = time.perf_counter() - t
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
            async with rt.db.session() as s:
                done = await s.get(SalesRecordJob, job.id)
            assert done is not None and done.status == "done", done.error if done else None
            print(f"| mass-create sales records ({done.created} created, {done.skipped} skipped; events, progress) | "
                  f"{done.created / t_job:,.0f} records/s ({t_job:.1f} s) |")
            print(f"| floor: one executemany of {total} rows | {total / t_floor:,.0f} rows/s ({t_floor:.2f} s) |")
            print(f"| mass-create / floor | {t_job / t_floor:.1f}x |")
            await rt.db.dispose()
        finally:
            await drop_database(pg_name)


if __name__ == "__main__":
    asyncio.run(main())
