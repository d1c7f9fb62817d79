"""Benchmark: bulk appoint at 10,000 producers × 3 states in one LOA category.

Set-up (not measured): a fresh database (SQLite file, or PostgreSQL with ``--database postgresql``
at 127.0.0.1:5432), migrated; the shipped dev reference dataset; N synced, active producers with
licenses (a resident TX license, non-resident CA and FL licenses; a share of them without a CA
license, with an inactive FL license or with an expired resident license, so every branch of the
engine runs).

On PostgreSQL the set-up ends with ``ANALYZE`` (as autovacuum would soon after a load), so the
planner knows the tables' sizes; see docs/benchmarks.md for what happens without it.

Measured, median of ``--repeat`` runs (each on fresh producers' requests, same database):
- **bulk appoint**: ``transactions.appoint`` with N requests (CA;TX;FL, "Life & Health", CoCode
  60054, ``submit: true``) in one unit of work: the indexed reference snapshot, producers and
  licenses loaded in chunks, every transaction evaluated (one per active line: CA 4, TX 2, FL 3),
  stored with executemany, one batch per CoCode, the non-JIT eligible ones auto-submitted (gateway
  messages of 500 through the outbox) and the transactions' statuses as TransactionStatusesChanged
  events of 500 (issue 17; one TransactionStatusChanged per transaction before).
- **engine only**: the pure evaluation of the same requests against the same snapshot.
- **background job**: the same N requests (on other fresh producers) through ``jobs.start_job``
  as the API runs them above the threshold: stored, then processed in chunks of ``--chunk``
  requests, each chunk one transaction with its claim, progress and per-request results. Measured
  from the call to the job's end, and meanwhile, every 50 ms, the event loop's lag (how late a
  timer fires) and the latency of a small write transaction on the same database (what any other
  request of the service waits).
- **baseline**: inserting the same number of transaction rows with one ``executemany`` (one
  INSERT statement, same table, one transaction) in the same run. Reported: bulk / baseline.

    .venv/bin/python bench/appointments_bulk.py [--producers 10000] [--database postgresql] [--repeat 3]
        [--chunk 100] [--no-job]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agency_common.db.engine import Database
from agency_common.db.migrate import upgrade
from agency_common.jobs import JobRunner
from agency_common.outbox.unit_of_work import UnitOfWork
from agency_common.timeutil import utcnow
from appointments import models as m
from appointments.bulk_appoint import jobs
from appointments.domain import eligibility as el
from appointments.producers.queries import load_producers
from appointments.reference_data import refdata
from appointments.transactions.schemas import BulkRequest
from appointments.transactions.transactions import appoint, known_transactions
from sqlalchemy import func, insert, select, text, update

MIGRATIONS = ROOT / "services" / "appointments" / "src" / "appointments" / "migrations"
CA_LH = "Life;Accident & Health or Sickness (including Disability);Health and Sickness (excluding Disability);Part time fraternal"
TX_LH = "Life, Accident and Health;Life Agent"
FL_LH = "Life Including Variable Annuity;Health;Life Including Variable Annuity & Health"


async def make_database(kind: str) -> tuple[str, object]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / "bench_appointments.db"
        return f"sqlite+aiosqlite:///{path}", None
    import asyncpg

    name = f"bench_appointments_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", drop


async def seed_producers(db: Database, first: int, n: int) -> list[str]:
    today = date.today()
    producers, licenses, npns = [], [], []
    for i in range(first, first + n):
        npn = str(10_000_000 + i)
        pid = str(uuid.uuid4())
        npns.append(npn)
        producers.append({"id": pid, "npn": npn, "first_name": "Bench", "last_name": f"Producer {i}",
                          "sync_status": "synced", "active": True, "created_by": "bench", "created_at": utcnow(),
                          "synced_at": utcnow()})
        resident_ok = i % 50 != 0  # 2 %: expired resident license → No Active Resident License
        licenses.append({"producer_id": pid, "npn": npn, "state": "TX", "license_number": f"TX{i}",
                         "license_class": "Insurance Producer", "lines_of_authority": TX_LH, "active": True,
                         "resident": True, "expiration_date": today + timedelta(days=300 if resident_ok else -10),
                         "fetched_at": utcnow()})
        if i % 10 != 0:  # 10 %: no CA license → Required License Not Found
            licenses.append({"producer_id": pid, "npn": npn, "state": "CA", "license_number": f"CA{i}",
                             "license_class": "Insurance Producer",
                             "lines_of_authority": CA_LH if i % 3 else "Life", "active": True, "resident": False,
                             "expiration_date": today + timedelta(days=300), "fetched_at": utcnow()})
        licenses.append({"producer_id": pid, "npn": npn, "state": "FL", "license_number": f"FL{i}",
                         "license_class": "Insurance Producer", "lines_of_authority": FL_LH,
                         "active": i % 7 != 0,  # ~14 %: inactive → Required License Not Active (Found)
                         "resident": False, "expiration_date": today + timedelta(days=300), "fetched_at": utcnow()})
    async with db.transaction() as s:
        for j in range(0, len(producers), 5000):
            await s.execute(insert(m.Producer.__table__), producers[j:j + 5000])
        for j in range(0, len(licenses), 5000):
            await s.execute(insert(m.License.__table__), licenses[j:j + 5000])
    if db.url.startswith("postgresql"):
        # What autovacuum does within a minute in a running system: statistics for the rows this
        # benchmark just loaded (without them the planner takes a 100,000-row table for a tiny one).
        async with db.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("ANALYZE"))
    return npns


def requests_for(npns: list[str]) -> list[BulkRequest]:
    return [BulkRequest(npn=n, states=["CA", "TX", "FL"], loa_category="Life & Health", cocodes=["60054"],
                        submit=True) for n in npns]


async def probe(db: Database, stop: asyncio.Event, lags: list[float], writes: list[float]) -> None:
    """Every 50 ms, how late the timer fired (event-loop lag); every 100 ms, in another task, how long
    a one-row write transaction takes (what another request of the service waits)."""
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while not stop.is_set():
            t = loop.time()
            await asyncio.sleep(0.05)
            lags.append(loop.time() - t - 0.05)

    async def writer() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            async with db.transaction() as s:
                await s.execute(update(m.ServiceSetting).where(m.ServiceSetting.name == "bench-probe")
                                .values(value="x"))
            writes.append(time.perf_counter() - t0)
            await asyncio.sleep(0.1)

    await asyncio.gather(ticker(), writer())


async def run_job(db: Database, uow: UnitOfWork, reqs: list[BulkRequest], chunk: int) -> tuple[float, dict, list, list]:
    runtime = SimpleNamespace(db=db, uow=uow, settings=SimpleNamespace(bulk_job_chunk=chunk, bulk_job_pause_seconds=0.1))
    runner = JobRunner(db, m.AppointJob.__table__, partial(jobs.run_job, runtime), name=jobs.RUNNER)
    runtime.jobs = {jobs.RUNNER: runner}
    stop, lags, writes = asyncio.Event(), [], []
    prober = asyncio.create_task(probe(db, stop, lags, writes))
    t0 = time.perf_counter()
    out = await jobs.start_job(runtime, "bench", reqs, source="bench")
    await asyncio.gather(*runner.tasks.values())
    elapsed = time.perf_counter() - t0
    stop.set()
    await prober
    async with db.session() as s:
        job = await s.get(m.AppointJob, out["job"]["id"])
    assert job.status == "done", job.error
    return elapsed, {"transactions": job.transactions, "processed": job.processed}, lags, writes


async def idle_probe(db: Database, seconds: float = 2.0) -> tuple[list[float], list[float]]:
    """The same probes with nothing else running: the machine's own noise (other processes)."""
    stop, lags, writes = asyncio.Event(), [], []
    task = asyncio.create_task(probe(db, stop, lags, writes))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return lags, writes


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def run(args: argparse.Namespace) -> None:
    url, drop = await make_database(args.database)
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    db = Database(url)
    uow = UnitOfWork(db, m.messaging, producer="appointments")
    await refdata.load_dev_dataset(SimpleNamespace(uow=uow))
    bulk_times, engine_times, base_times, counts = [], [], [], []
    job_times, job_base_ratios, all_lags, all_writes, idle_lags, idle_writes = [], [], [], [], [], []
    try:
        for rep in range(args.repeat):
            npns = await seed_producers(db, rep * args.producers, args.producers)
            reqs = requests_for(npns)

            # engine only (pure), against the same snapshot the use case builds
            async with db.session() as s:
                ref = await refdata.snapshot(s)
                producers = await load_producers(s, npns, ref.assignment_required)
                open_ids = await known_transactions(s, npns, "appointment")
            t0 = time.perf_counter()
            evaluated = [el.evaluate(el.AppointRequest(r.npn, tuple(r.states), r.loa_category, tuple(r.cocodes),
                                                       r.submit, r.submit_jit), producers.get(r.npn), ref, dict(open_ids))
                         for r in reqs]
            engine_times.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            async with uow(actor="bench") as tx:
                out = await appoint(tx, reqs, source="bench", emit_status_events=not args.no_status_events)
            bulk_times.append(time.perf_counter() - t0)
            n = out["transactions"]
            counts.append(n)
            assert n == sum(len(e.transactions) for e in evaluated)

            # baseline: the same number of rows, one executemany, same table, one transaction
            now = utcnow()
            batch_id = str(uuid.uuid4())
            rows = [{"id": str(uuid.uuid4()), "batch_id": batch_id, "kind": "appointment", "npn": npns[i % len(npns)],
                     "state": "CA", "line_of_authority": "Life", "cocode": "60054", "status": "Ready to Submit",
                     "nipr_reason": None, "nipr_reference": None, "idempotency_key": str(uuid.uuid4()),
                     "updated_at": now, "loa_category": "Life & Health", "eligibility_reason": "In Good Standing",
                     "billable": True, "jit": False, "fee": None, "license_number": None,
                     "identity_key": None, "termination_reason_code": None, "created_by": "bench",
                     "created_at": now, "submitted_at": None, "answered_at": None} for i in range(n)]
            async with db.transaction() as s:
                await s.execute(insert(m.TransactionBatch.__table__), {
                    "id": batch_id, "cocode": "60054", "kind": "appointment", "status": "draft",
                    "created_by": "bench", "created_at": now})
            t0 = time.perf_counter()
            async with db.transaction() as s:
                await s.execute(insert(m.AppointmentTransaction.__table__), rows)
            base_times.append(time.perf_counter() - t0)
            print(f"run {rep + 1}: {n} transactions; bulk appoint {bulk_times[-1]:.2f}s, engine {engine_times[-1]:.2f}s, "
                  f"executemany {base_times[-1]:.2f}s", flush=True)
            if not args.no_job:
                job_npns = await seed_producers(db, (args.repeat + rep) * args.producers, args.producers)
                lags, writes = await idle_probe(db)
                idle_lags += lags
                idle_writes += writes
                elapsed, job, lags, writes = await run_job(db, uow, requests_for(job_npns), args.chunk)
                assert job["transactions"] == n, (job, n)
                job_times.append(elapsed)
                job_base_ratios.append(elapsed / base_times[-1])
                all_lags += lags
                all_writes += writes
                print(f"run {rep + 1}: background job {elapsed:.2f}s ({job['processed']} requests, chunks of "
                      f"{args.chunk}); loop lag max {max(lags) * 1000:.0f} ms, write p99 {pct(writes, .99) * 1000:.0f} ms"
                      f" max {max(writes) * 1000:.0f} ms", flush=True)
        async with db.session() as s:
            statuses = dict((await s.execute(select(m.AppointmentTransaction.eligibility_reason, func.count())
                                             .where(m.AppointmentTransaction.created_by == "bench",
                                                    m.AppointmentTransaction.batch_id.in_(
                                                        select(m.TransactionBatch.id).where(m.TransactionBatch.source == "bench")))
                                             .group_by(m.AppointmentTransaction.eligibility_reason))).all())
            outbox = await s.scalar(select(func.count()).select_from(m.messaging.outbox))
    finally:
        await db.dispose()
        if drop:
            await drop()
    n = statistics.median(counts)
    bulk, eng, base = statistics.median(bulk_times), statistics.median(engine_times), statistics.median(base_times)
    print(f"\ndatabase: {args.database}; producers per run: {args.producers} × 3 states; runs: {args.repeat}"
          f"{'; WITHOUT status events' if args.no_status_events else ''}")
    print(f"transactions per run: {n:.0f}  (reasons over all runs: {statuses})")
    print(f"outbox events written over all runs: {outbox}")
    print(f"bulk appoint:  {bulk:.2f} s  → {n / bulk:,.0f} transactions/s")
    print(f"engine only:   {eng:.2f} s  → {n / eng:,.0f} transactions/s")
    print(f"executemany:   {base:.2f} s  → {n / base:,.0f} rows/s")
    ratios = [b / e for b, e in zip(bulk_times, base_times, strict=True)]
    print(f"ratio bulk appoint / executemany (median of per-run ratios): {statistics.median(ratios):.1f}× "
          f"(runs: {', '.join(f'{r:.1f}×' for r in ratios)})")
    if job_times:
        job = statistics.median(job_times)
        print(f"background job (chunks of {args.chunk}): {job:.2f} s → {n / job:,.0f} transactions/s; "
              f"job / executemany {statistics.median(job_base_ratios):.1f}× "
              f"(runs: {', '.join(f'{r:.1f}×' for r in job_base_ratios)})")
        print(f"during the jobs: event-loop lag p50 {pct(all_lags, .5) * 1000:.0f} ms, p99 {pct(all_lags, .99) * 1000:.0f} ms, "
              f"max {max(all_lags) * 1000:.0f} ms; one-row write p50 {pct(all_writes, .5) * 1000:.0f} ms, "
              f"p99 {pct(all_writes, .99) * 1000:.0f} ms, max {max(all_writes) * 1000:.0f} ms "
              f"({len(all_writes)} probes)")
        print(f"idle reference (same probes, no job): event-loop lag p50 {pct(idle_lags, .5) * 1000:.0f} ms, "
              f"p99 {pct(idle_lags, .99) * 1000:.0f} ms, max {max(idle_lags) * 1000:.0f} ms; one-row write p50 "
              f"{pct(idle_writes, .5) * 1000:.0f} ms, max {max(idle_writes) * 1000:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--producers", type=int, default=10_000)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--chunk", type=int, default=100, help="requests per chunk of the background job")
    p.add_argument("--no-job", action="store_true", help="leave out the background-job run")
    p.add_argument("--no-status-events", action="store_true",
                   help="leave out the status events' outbox rows (to see their share of the time)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
