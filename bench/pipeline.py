"""Benchmark: one carrier statement (default 100,000 lines) through the whole platform.

Starts the platform as ``make run`` does (the embedded Tansu broker, then intake, invoicing and
reporting as separate processes, each with its own database) and drives it over HTTP as an operator
would, through the real broker:

    upload → imported (parsed + matched) → policies created for the unmatched lines → published
    to invoicing → reconciliation ready (every line an entry, every new policy in invoicing's read
    model) → select all → invoices created → posted → paid → the payments visible in reporting

and prints the time from the upload to the last payment being visible in reporting, each stage's
time and share. Half of the statement's lines match a pre-seeded book (loaded straight into
intake's and invoicing's tables, not measured; a quarter match only after normalisation), the other
half are new policies that Create Policies makes.

    .venv/bin/python bench/pipeline.py                         # 100,000 lines, SQLite
    .venv/bin/python bench/pipeline.py --database postgresql   # PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/pipeline.py --lines 5000            # a quick run

``--keep`` leaves the data folder (databases, service logs) for a look afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg
import httpx
from agency_common.auth import TokenService, UserDirectory
from agency_common.db.engine import Database
from agency_common.messaging.admin import ensure_topics
from agency_common.pii import PiiCipher
from agency_platform.launcher import (
    SERVICES,
    Platform,
    free_port,
    start_broker,
    wait_healthy,
    write_users_file,
)
from sqlalchemy import insert, text

from bench.intake_import import generate

CARRIER = "Acme"
SERVICE_NAMES = ("intake", "invoicing", "reporting")
JWT_SECRET = secrets.token_urlsafe(48)


# -- databases ----------------------------------------------------------------------------------
async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_database(kind: str, tmp: Path, label: str, created: list[str]) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / label}.db"
    name = f"bench_pipeline_{label}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    created.append(name)
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def drop_databases(created: list[str]) -> None:
    for name in created:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def seed_book(intake_url: str, invoicing_url: str, book: list[str]) -> None:
    """The carrier's existing book, in intake (system of record) and in invoicing's read model, as
    if its PolicyCreated events had been consumed long ago."""
    from intake.models import Policy
    from invoicing.models import PolicyView

    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in book]
    intake_rows = [{"id": pid, "version": 1, "carrier": CARRIER, "policy_number": n, "client_name": f"C {i}",
                    "status": "active", "line_of_business": "AUTOP", "effective_date": date(2026, 1, 15),
                    "expiration_date": date(2027, 1, 15), "estimated_premium": Decimal("1000.00"),
                    "created_by": "bench", "created_at": now, "updated_at": now}
                   for i, (pid, n) in enumerate(zip(ids, book, strict=True))]
    view_rows = [{"policy_id": pid, "version": 1, "carrier": CARRIER, "policy_number": n, "client_name": f"C {i}",
                  "line_of_business": "AUTOP", "status": "active", "in_history": False,
                  "effective_date": date(2026, 1, 15), "expiration_date": date(2027, 1, 15),
                  "estimated_premium": Decimal("1000.00"), "commission_rate_type": "percent",
                  "commission_rate": Decimal("0.150000"), "estimated_agency_commission": Decimal("150.00"),
                  "updated_at": now} for i, (pid, n) in enumerate(zip(ids, book, strict=True))]
    for url, table, rows in ((intake_url, Policy.__table__, intake_rows),
                             (invoicing_url, PolicyView.__table__, view_rows)):
        db = Database(url)
        async with db.transaction() as s:
            for i in range(0, len(rows), 10_000):
                await s.execute(insert(table), rows[i:i + 10_000])
        if db.dialect == "postgresql":  # statistics, as autovacuum gives a running system within a minute
            async with db.engine.connect() as conn:
                await conn.execute(text(f"ANALYZE {table.name}"))
        await db.dispose()


# -- the platform -------------------------------------------------------------------------------
class Pipeline:
    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind, self.data_dir = kind, data_dir
        self.created_dbs: list[str] = []
        users = data_dir / "users.yaml"
        password = secrets.token_urlsafe(12)
        write_users_file(users, {"bench": password}, memberships={"bench": ["admins"]})
        user = UserDirectory.from_file(users).authenticate("bench", password)
        assert user is not None
        self.token = TokenService(JWT_SECRET).issue(user)
        self.env = {**os.environ, "AGENCY_JWT_SECRET": JWT_SECRET, "AGENCY_USERS_FILE": str(users),
                    "AGENCY_PII_KEYS": PiiCipher.generate_key(), "AGENCY_DATA_DIR": str(data_dir),
                    "AGENCY_LOG_LEVEL": "WARNING", "AGENCY_MAX_UPLOAD_BYTES": str(512 * 1024 * 1024)}
        self.platform = Platform(env=self.env)
        self.urls: dict[str, str] = {}
        self.db_urls: dict[str, str] = {}
        self.book: list[str] = []

    def start(self, book: list[str]) -> None:
        port = free_port()
        self.platform.broker = start_broker(port, log_file=self.data_dir / "broker.log")
        bootstrap = f"127.0.0.1:{port}"
        self.env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        asyncio.run(ensure_topics(bootstrap, partitions=int(self.env.get("AGENCY_KAFKA_TOPIC_PARTITIONS", "4"))))
        specs = {s.name: s for s in SERVICES}
        for name in SERVICE_NAMES:
            self.db_urls[name] = new_database(self.kind, self.data_dir, name, self.created_dbs)
            self.platform.migrate(specs[name], self.db_urls[name])
        asyncio.run(seed_book(self.db_urls["intake"], self.db_urls["invoicing"], book))
        for name in SERVICE_NAMES:
            port = free_port()
            self.platform.start(specs[name], self.db_urls[name], port, log_file=self.data_dir / f"{name}.log")
            self.urls[name] = f"http://127.0.0.1:{port}"
        for name in SERVICE_NAMES:
            wait_healthy(self.urls[name], timeout=120, proc=self.platform.processes[name])

    def client(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=self.urls[name], headers={"Authorization": f"Bearer {self.token}"},
                            timeout=httpx.Timeout(1800.0, connect=10.0))

    def stop(self) -> None:
        self.platform.stop_all()
        drop_databases(self.created_dbs)


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what}: not after {timeout:.0f} s (last: {last!r})")


def scalar(url: str, sql: str) -> Any:
    async def read() -> Any:
        db = Database(url)
        try:
            async with db.session() as s:
                return await s.scalar(text(sql))
        finally:
            await db.dispose()
    return asyncio.run(read())


def ok(r: httpx.Response, *codes: int) -> Any:
    if r.status_code not in (codes or (200,)):
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:500]}")
    return r.json()


# -- the run --------------------------------------------------------------------------------------
def run(p: Pipeline, path: Path, lines: int, new_policies: int, timeout: float) -> list[tuple[str, float]]:
    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))
        prev = marks[-2][1] if len(marks) > 1 else t0
        print(f"  {name:<34} {marks[-1][1] - prev:8.2f} s   (at {marks[-1][1] - t0:8.2f} s)", flush=True)

    with p.client("intake") as intake, p.client("invoicing") as invoicing, p.client("reporting") as reporting:
        ok(intake.post("/api/carriers", json={"name": CARRIER}), 201, 409)  # statements name registered carriers
        with path.open("rb") as f:
            st = ok(intake.post("/api/statements", data={"carrier": CARRIER},
                                files={"file": (path.name, f, "text/csv")}), 202)
        mark("upload (HTTP, file stored)")

        def imported() -> dict[str, Any] | None:
            s = ok(intake.get(f"/api/statements/{st['id']}"))
            if s["status"] == "failed":
                raise RuntimeError(f"import failed: {s['error']}")
            return s if s["status"] == "imported" else None
        st = wait_for("import", imported, timeout)
        assert st["total"] == lines and st["valid"] == lines, st
        mark("parsed + matched (imported)")

        created = ok(intake.post(f"/api/statements/{st['id']}/create-policies", json={
            "idempotency_key": str(uuid.uuid4()), "defaults": {"line_of_business": "Personal Auto"}}), 201, 202)
        if created.get("background"):  # a large statement: intake creates them in a background job
            job_url = created["job"]["url"]

            def policies_done() -> dict[str, Any] | None:
                job = ok(intake.get(job_url))
                if job["status"] == "failed":
                    raise RuntimeError(f"create policies failed: {job['error']}")
                return job if job["status"] == "done" else None
            created = wait_for("create policies", policies_done, timeout)
            created["count"] = created["total"]
        assert created["count"] == new_policies, created
        mark("policies created")

        st = ok(intake.get(f"/api/statements/{st['id']}"))
        if not st["published_at"]:  # auto-publish is off: the operator publishes
            st = ok(intake.post(f"/api/statements/{st['id']}/publish", json={}))
        mark("handed to invoicing (published)")

        def reconciliation() -> dict[str, Any] | None:
            items = ok(invoicing.get("/api/reconciliations", params={"carrier": CARRIER}))["items"]
            rec = next((r for r in items if r["statement_id"] == st["id"]), None)
            if rec is None:
                return None
            head = ok(invoicing.get(f"/api/reconciliations/{rec['id']}"))
            return head if head["entry_count"] == lines else None
        book_total = len(p.book) + new_policies
        seen: dict[str, float] = {}

        def ready() -> dict[str, Any] | None:
            # the two halves of "ready", timed apart: the statement's lines, the new policies
            if "entries" not in seen and (head := reconciliation()):
                seen["entries"], seen["head"] = time.perf_counter(), head
            if "policies" not in seen and ok(invoicing.get(
                    "/api/policies", params={"carrier": CARRIER, "limit": 1}))["total"] == book_total:
                seen["policies"] = time.perf_counter()
            return seen["head"] if len(seen) == 3 else None
        rec = wait_for("reconciliation", ready, timeout)
        mark("reconciliation ready")
        handed = marks[-2][1]
        print(f"    (every line an entry after {seen['entries'] - handed:.2f} s, every new policy in the read "
              f"model after {seen['policies'] - handed:.2f} s)", flush=True)
        rid = rec["id"]

        sel = ok(invoicing.post(f"/api/reconciliations/{rid}/entries/select", json={"all_matching": True}))
        assert sel.get("changed", lines) == lines, sel
        mark("all rows selected")

        r = invoicing.post(f"/api/reconciliations/{rid}/create-invoices", json={"idempotency_key": str(uuid.uuid4())})
        result = ok(r, 200, 202)
        if result.get("background"):
            job_id = result["job"]["id"]

            def job_done() -> dict[str, Any] | None:
                job = ok(invoicing.get(f"/api/jobs/{job_id}"))
                if job["status"] == "failed":
                    raise RuntimeError(f"create invoices failed: {job['error']}")
                return job["result"] if job["status"] == "done" else None
            result = wait_for("create invoices", job_done, timeout)
        assert result["created"] == lines, {k: v for k, v in result.items() if k != "reconciliation"}
        mark("invoices created")

        result = post_or_pay(invoicing, f"/api/reconciliations/{rid}/post", timeout)
        assert result["posted"] == lines, result
        mark("posted")

        ok(invoicing.post(f"/api/reconciliations/{rid}/transactions/select-all"))
        result = post_or_pay(invoicing, f"/api/reconciliations/{rid}/pay", timeout)
        assert result["paid"] == lines, result
        mark("paid")

        def paid_in_reporting() -> bool:
            view = ok(reporting.get("/api/operations/views/reconciliations"))
            section = next(s for s in view["sections"] if s["key"] == "payments")
            return sum(int(row["Invoices paid"]) for row in section["rows"]) == lines
        wait_for("payments in reporting", paid_in_reporting, timeout)
        mark("visible in reporting")

        def postings_applied_in_intake() -> bool:
            # each posting applied bumps its policy's version (seeded and created at 1); intake's count
            # of consumed events is no count of postings since they travel as InvoicesPosted chunks
            return scalar(p.db_urls["intake"], "SELECT sum(version) - count(*) FROM policies") >= lines
        wait_for("postings applied in intake", postings_applied_in_intake, timeout)
        mark(AFTER_THE_TOTAL)
    return [("start", t0), *marks]


# The last stage, timed but outside the total (upload → last payment visible in reporting): intake's
# annualized and billed premiums follow the postings asynchronously; this shows how far behind it is.
AFTER_THE_TOTAL = "every posting applied in intake"


def post_or_pay(client: httpx.Client, url: str, timeout: float) -> dict[str, Any]:
    """Post and Pay answer at once for a small reconciliation, or 202 with a background job."""
    result = ok(client.post(url, json={"idempotency_key": str(uuid.uuid4())}), 200, 202)
    if not result.get("background"):
        return result
    job_id = result["job"]["id"]

    def done() -> dict[str, Any] | None:
        job = ok(client.get(f"/api/jobs/{job_id}"))
        if job["status"] == "failed":
            raise RuntimeError(f"{url}: job failed: {job['error']}")
        return job["result"] if job["status"] == "done" else None
    return wait_for(url, done, timeout)


def report(marks: list[tuple[str, float]], args: argparse.Namespace, size_mb: float) -> None:
    (_, visible), (_, intake_done) = marks[-2], marks[-1]
    marks = marks[:-1]
    total = marks[-1][1] - marks[0][1]
    db = "PostgreSQL" if args.database == "postgresql" else "SQLite"
    print(f"\n{args.lines:,} lines ({size_mb:.1f} MB), book {args.lines // 2:,} policies, {db}; "
          f"{host.machine()}, {os.cpu_count()} CPUs, Python {host.python_version()}, {date.today()}")
    print(f"\n| stage ({db}, {args.lines:,} lines) | seconds | share |\n| --- | ---: | ---: |")
    for (_, prev), (name, at) in pairwise(marks):
        print(f"| {name} | {at - prev:.2f} | {100 * (at - prev) / total:.1f} % |")
    print(f"| **upload → last payment visible in reporting** | **{total:.2f}** | 100 % |")
    print(f"\n{args.lines / total:,.0f} statement lines per second end to end")
    print(f"{AFTER_THE_TOTAL}: {intake_done - visible:.2f} s after the last payment was visible in reporting")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds any one stage may take")
    ap.add_argument("--keep", action="store_true", help="keep the data folder (databases, logs)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    pipeline = Pipeline(args.database, tmp)
    try:
        path = tmp / "statement.csv"
        # half of the lines match the book (lines n % 2 == 0), the other half are new policies
        book = generate(path, args.lines, max(args.lines // 2, 1), random.Random(7))
        pipeline.book = book
        size_mb = path.stat().st_size / 1e6
        print(f"starting the platform ({args.database}), seeding a book of {len(book):,} policies...", flush=True)
        pipeline.start(book)
        print(f"statement of {args.lines:,} lines ({size_mb:.1f} MB):", flush=True)
        marks = run(pipeline, path, args.lines, args.lines // 2, args.timeout)
        report(marks, args, size_mb)
    finally:
        pipeline.stop()
        if args.keep:
            print(f"data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
