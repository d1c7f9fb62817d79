"""Benchmark: reporting's Team Screens at a million jobs and a million activities.

Two parts, each on SQLite (default) or PostgreSQL (``--database postgresql``, 127.0.0.1:5432):

1. **Snapshot**: generates N policy jobs and N activities straight into the tables (raw driver
   bulk load; not what is measured), then times, median of ``--repeat`` runs:
   - the batch process's set-based SQL (``compute_counts``: two statements, per user and group,
     every status of the four categories);
   - the whole run (``calculate``: lock, windows, the ids behind every count stored by one
     ``INSERT ... SELECT``, the counts counted from them, snapshot row, outbox event, release);
   - the same counts without storing the items (what the run cost before issue 16), and the largest
     count's drill-down: one page of 100 with its total, "moved since" and "new since" counts;
   - the baseline: a plain ``SELECT assigned_user, count(*) ... GROUP BY assigned_user`` over both
     tables, measured in the same run; the figure reported is compute / baseline. Also a plain count
     grouped by the batch's own keys (user, group, job type), to show what the status rules add.
2. **Ingestion through the real broker**: M upstream events (jobs and activities, with 5 % sent
   twice and 5 % older versions sent after newer ones) are produced to the embedded broker first,
   then the reporting service starts (in this process: real app, consumer, database) and consumes
   them; events/s is measured from the first applied event to the last.

    .venv/bin/python bench/reporting_team_screens.py --rows 1000000 --events 100000
    .venv/bin/python bench/reporting_team_screens.py --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agency_common.db.engine import Database
from sqlalchemy import func, select, text

from tests.support.inprocess import migrate

CALC = datetime(2025, 7, 11, 10, 54, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
JOB_TYPES = (["submission"] * 35 + ["renewal"] * 30 + ["cancellation"] * 8 + ["policy_change"] * 15
             + ["reinstatement"] * 3 + ["rewrite"] * 3 + ["rewrite_new_account"] * 2 + ["audit"] * 4)
USERS = 500
GROUPS = 50


# -- databases ----------------------------------------------------------------------------------------
async def new_database(kind: str, tmp: Path, label: str) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / label}.db"
    import asyncpg

    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


# -- generating rows (not measured) -------------------------------------------------------------------
def generate(n: int, seed: int = 7) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rnd = random.Random(seed)
    jobs, acts = [], []
    for i in range(n):
        u = rnd.randrange(USERS)
        user, group = f"user{u:03d}", f"group{(u % GROUPS) if rnd.random() > 0.05 else rnd.randrange(GROUPS):02d}"
        job_type = rnd.choice(JOB_TYPES)
        create = CALC - timedelta(seconds=rnd.randrange(120 * 86400))
        close = None
        model = nr = nt = False
        if rnd.random() < 0.55:
            close = min(CALC, create + timedelta(seconds=rnd.randrange(30 * 86400)))
            r = rnd.random()
            if r < 0.6:
                model = True
            elif job_type == "renewal":
                nr, nt = (True, False) if r < 0.8 else (False, True)
        jobs.append((f"J{i}", 1, job_type, user, group, create, close, model, nr, nt, "[]", CALC))
        status = rnd.choices(["open", "completed", "canceled", "skipped"], [60, 33, 5, 2])[0]
        target = CALC + timedelta(seconds=rnd.randrange(-30 * 86400, 30 * 86400))
        closed = CALC - timedelta(seconds=rnd.randrange(60 * 86400)) if status != "open" else None
        acts.append((f"A{i}", 1, f"activity {i}", user, group, status, target, closed, CALC))
    return jobs, acts


JOB_COLS = ("job_id", "version", "job_type", "assigned_user", "assigned_group", "create_time", "close_date",
            "has_model_number", "locked_non_renewed", "locked_not_taken", "periods", "updated_at")
ACT_COLS = ("activity_id", "version", "subject", "assigned_user", "assigned_group", "status", "target_date",
            "close_date", "updated_at")


def _sqlite_value(v: Any) -> Any:
    # The storage format SQLAlchemy's SQLite DateTime writes (and UTCDateTime compares against).
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, bool):
        return int(v)
    return v


async def bulk_load(url: str, jobs: list[tuple[Any, ...]], acts: list[tuple[Any, ...]]) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split(":///", 1)[1])
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for table, cols, rows in (("policy_jobs", JOB_COLS, jobs), ("activities", ACT_COLS, acts)):
            sql = f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
            conn.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        return
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    await conn.copy_records_to_table("policy_jobs", records=jobs, columns=list(JOB_COLS))
    await conn.copy_records_to_table("activities", records=acts, columns=list(ACT_COLS))
    await conn.execute("VACUUM ANALYZE policy_jobs")
    await conn.execute("VACUUM ANALYZE activities")
    await conn.close()


# -- part 1: the snapshot -----------------------------------------------------------------------------
async def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


async def bench_snapshot(kind: str, rows: int, repeat: int, tmp: Path) -> dict[str, Any]:
    from agency_common.outbox import UnitOfWork
    from reporting.models import messaging
    from reporting.settings import ReportingSettings
    from reporting.team_screens import sql_rules, usecases

    url = await new_database(kind, tmp, "snapshot")
    try:
        await migrate("reporting", url)
        t = time.perf_counter()
        jobs, acts = generate(rows)
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        await bulk_load(url, jobs, acts)
        load_s = time.perf_counter() - t
        del jobs, acts
        db = Database(url)
        settings = ReportingSettings(database_url=url, team_screens_interval_seconds=0)
        w = usecases.windows_for(settings, CALC)

        async def compute() -> list[dict[str, Any]]:
            async with db.session() as session:
                return await sql_rules.compute_counts(session, w)

        async def baseline() -> int:
            async with db.session() as session:
                return await sql_rules.plain_group_by_counts(session)

        async def same_keys() -> int:
            # A plain count with the batch process's own grouping keys (user, group[, type]).
            async with db.session() as session:
                a = await session.execute(text("SELECT assigned_user, assigned_group, count(*) FROM activities "
                                               "GROUP BY assigned_user, assigned_group"))
                j = await session.execute(text("SELECT assigned_user, assigned_group, job_type, count(*) "
                                               "FROM policy_jobs GROUP BY assigned_user, assigned_group, job_type"))
                return len(a.all()) + len(j.all())

        async def full() -> Any:
            return await usecases.calculate(db, UnitOfWork(db, messaging, producer="bench"), settings,
                                               triggered_by="bench", clock=lambda: CALC)

        await baseline()  # warm the cache for both
        base_s, groups = await timed(baseline, repeat)
        keys_s, _ = await timed(same_keys, repeat)
        compute_s, counts = await timed(compute, repeat)
        full_s, result = await timed(full, repeat)
        async with db.session() as session:
            n_jobs = (await session.execute(select(func.count()).select_from(text("policy_jobs")))).scalar_one()
            item_rows = (await session.execute(text("SELECT count(*) FROM team_screen_items WHERE snapshot_id = :s"),
                                               {"s": result.snapshot_id})).scalar_one()
            big = (await session.execute(text(
                "SELECT scope, assignee, category, status, count FROM team_screen_counts WHERE snapshot_id = :s "
                "AND scope = 'user' ORDER BY count DESC LIMIT 1"), {"s": result.snapshot_id})).one()
            everyone = (await session.execute(text(
                "SELECT category, status, count(*) AS n FROM team_screen_items WHERE snapshot_id = :s "
                "GROUP BY category, status ORDER BY n DESC LIMIT 1"), {"s": result.snapshot_id})).one()

        from reporting.team_screens import queries

        async def drill(user: str | None, category: str, status: str, sort: str = "id") -> Any:
            return await queries.snapshot_items(db, result.snapshot_id, category, status, user, None, limit=100,
                                                sort=sort)

        drill_s, view = await timed(lambda: drill(big.assignee, big.category, big.status), repeat)
        drill_all_s, view_all = await timed(lambda: drill(None, everyone.category, everyone.status), repeat)
        drill_moved_s, _ = await timed(lambda: drill(None, everyone.category, everyone.status, "-moved"), repeat)
        await db.dispose()
        return {"database": kind, "jobs": n_jobs, "activities": rows, "generate_s": gen_s, "load_s": load_s,
                "baseline_s": base_s, "compute_s": compute_s, "calculate_s": full_s,
                "ratio": compute_s / base_s, "same_keys_s": keys_s, "ratio_same_keys": compute_s / keys_s, "count_rows": len(counts), "baseline_groups": groups,
                "snapshot_rows": result.rows, "item_rows": item_rows, "store_s": full_s - compute_s,
                "drill_s": drill_s, "drill_total": view.page.total, "drill_all_s": drill_all_s,
                "drill_all_total": view_all.page.total, "drill_moved_s": drill_moved_s,
                "drill_of": f"{big.category}/{big.status} of {big.assignee}",
                "drill_all_of": f"{everyone.category}/{everyone.status} of everyone"}
    finally:
        await drop_database(url)


# -- part 2: ingestion through the broker -------------------------------------------------------------
def upstream_envelopes(n: int, seed: int = 11) -> tuple[list[Any], int]:
    """n events (half jobs, half activities) plus 5 % duplicates and 5 % stale versions sent late."""
    from agency_common.contracts.envelope import make_envelope
    from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted, PolicyPeriod

    rnd = random.Random(seed)
    out: list[Any] = []
    stale: list[Any] = []
    for i in range(n // 2):
        u = rnd.randrange(USERS)
        create = CALC - timedelta(seconds=rnd.randrange(120 * 86400))
        closed = rnd.random() < 0.5
        version = 2
        job = PolicyJobUpserted(job_id=f"J{i}", version=version, job_type=rnd.choice(JOB_TYPES),
                                assigned_user=f"user{u:03d}", assigned_group=f"group{u % GROUPS:02d}",
                                create_time=create, close_date=create + timedelta(days=3) if closed else None,
                                periods=[PolicyPeriod(model_number=1 if closed else None, locked=closed)])
        act = ActivityUpserted(activity_id=f"A{i}", version=version, subject=f"Follow up {i}",
                               assigned_user=f"user{u:03d}", assigned_group=f"group{u % GROUPS:02d}",
                               status=rnd.choice(["open", "completed"]), target_date=create + timedelta(days=7),
                               close_date=create + timedelta(days=2))
        for p in (job, act):
            env = make_envelope(p, producer="upstream", actor="pas", correlation_id=str(uuid.uuid4()))
            out.append(env)
            r = rnd.random()
            if r < 0.05:
                out.append(env)  # delivered twice
            elif r < 0.10:
                older = p.model_copy(update={"version": 1})
                stale.append(make_envelope(older, producer="upstream", actor="pas", correlation_id=str(uuid.uuid4())))
    distinct = len({e.event_id for e in out}) + len(stale)
    return out + stale, distinct


async def bench_ingestion(kind: str, events: int, tmp: Path) -> dict[str, Any]:
    from agency_common.messaging.admin import ensure_topics
    from agency_common.pii import PiiCipher
    from agency_platform.launcher import DEFAULT_GROUPS, free_port, start_broker, write_users_file
    from aiokafka import AIOKafkaProducer
    from reporting.models import Activity, PolicyJob, messaging

    from tests.support.inprocess import run_service

    port = free_port()
    broker = start_broker(port, log_file=tmp / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    url = await new_database(kind, tmp, "ingest")
    try:
        await ensure_topics(bootstrap)
        envelopes, distinct = upstream_envelopes(events)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                    max_batch_size=1024 * 1024)
        await producer.start()
        t = time.perf_counter()
        for env in envelopes:
            await producer.send(type(env.payload).topic, env.to_bytes(), key=env.payload.key().encode(),
                                headers=[(k, v.encode()) for k, v in env.headers().items()])
        await producer.flush()
        produce_s = time.perf_counter() - t
        await producer.stop()

        users = tmp / "users.yaml"
        write_users_file(users, {"admin": "bench-pass-1"}, DEFAULT_GROUPS, {"admin": ["admins"]})
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "AGENCY_JWT_SECRET": "bench-secret-" + "x" * 40,
               "AGENCY_USERS_FILE": str(users), "AGENCY_PII_KEYS": PiiCipher.generate_key(),
               "AGENCY_DATA_DIR": str(tmp / "data")}
        inbox = messaging.inbox
        t_start = time.perf_counter()
        async with run_service("reporting", env, url, team_screens_interval_seconds=0, log_level="WARNING") as svc:
            db = svc.runtime.db
            t_first = None
            while True:
                async with db.session() as session:
                    n = (await session.execute(select(func.count()).select_from(inbox))).scalar_one()
                now = time.perf_counter()
                if n and t_first is None:
                    t_first = now
                if n >= distinct:
                    break
                if now - t_start > 3600:
                    raise TimeoutError(f"only {n} of {distinct} events after an hour")
                await asyncio.sleep(0.25)
            t_end = time.perf_counter()
            async with db.session() as session:
                jobs = (await session.execute(select(func.count(), func.min(PolicyJob.version))
                                              .select_from(PolicyJob))).one()
                acts = (await session.execute(select(func.count(), func.min(Activity.version))
                                              .select_from(Activity))).one()
        assert jobs[0] == acts[0] == events // 2 and jobs[1] == acts[1] == 2, (jobs, acts)  # no stale overwrite
        busy = t_end - (t_first or t_start)
        return {"database": kind, "events_sent": len(envelopes), "distinct_events": distinct,
                "produce_s": produce_s, "join_s": (t_first or t_start) - t_start, "ingest_s": busy,
                "events_per_s": len(envelopes) / busy, "distinct_per_s": distinct / busy}
    finally:
        broker.terminate()
        broker.wait(10)
        await drop_database(url)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs and (as many) activities for the snapshot")
    parser.add_argument("--events", type=int, default=100_000, help="upstream events through the broker")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-snapshot", action="store_true")
    parser.add_argument("--skip-ingestion", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_snapshot:
            s = await bench_snapshot(args.database, args.rows, args.repeat, tmp)
            print(f"[snapshot/{s['database']}] {s['jobs']:,} jobs + {s['activities']:,} activities "
                  f"(generated {s['generate_s']:.1f} s, bulk-loaded {s['load_s']:.1f} s)")
            print(f"  plain GROUP BY count (baseline): {s['baseline_s']:.3f} s ({s['baseline_groups']} groups)")
            print(f"  plain GROUP BY count on the batch's own keys (user, group, type): {s['same_keys_s']:.3f} s")
            print(f"  Team Screens counts (set-based SQL): {s['compute_s']:.3f} s = {s['ratio']:.2f}x the baseline, "
                  f"{s['ratio_same_keys']:.2f}x the same-keys count ({s['count_rows']:,} counts)")
            print(f"  whole batch run (lock, items stored, counts from them, snapshot rows, outbox event): "
                  f"{s['calculate_s']:.3f} s for {s['item_rows']:,} item rows "
                  f"({s['item_rows'] / s['calculate_s']:,.0f} items/s; {s['store_s']:.3f} s over the counts alone)")
            print(f"  drill-down, one page of 100 with total, moved and new-since counts: {s['drill_s'] * 1000:.0f} ms "
                  f"({s['drill_of']}: {s['drill_total']:,} items); {s['drill_all_s'] * 1000:.0f} ms "
                  f"({s['drill_all_of']}: {s['drill_all_total']:,} items); sorted by -moved "
                  f"{s['drill_moved_s'] * 1000:.0f} ms")
        if not args.skip_ingestion:
            r = await bench_ingestion(args.database, args.events, tmp)
            print(f"[ingestion/{r['database']}] {r['events_sent']:,} messages ({r['distinct_events']:,} distinct) "
                  f"produced in {r['produce_s']:.1f} s; group join {r['join_s']:.1f} s")
            print(f"  consumed and applied in {r['ingest_s']:.1f} s: {r['events_per_s']:,.0f} events/s "
                  f"({r['distinct_per_s']:,.0f} distinct/s)")


if __name__ == "__main__":
    asyncio.run(main())
