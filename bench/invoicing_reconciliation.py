"""Benchmark: one reconciliation of N statement entries (default 100,000) through every stage.

    .venv/bin/python bench/invoicing_reconciliation.py [--rows 100000] [--postgres]

Steps, each through the service's own use cases on a migrated database (SQLite file by default,
PostgreSQL at 127.0.0.1:5432 with --postgres), timed separately:

- load:           the statement's lines arrive as 100 chunks of 1,000 (the consumer's path: executemany)
- save:           statement-entry Save of every row, 1,000 rows per save (a new rate on each row:
                  validation, recompute, one executemany UPDATE with version check per save)
- select all:     select every row at once (one set-based UPDATE with the time stamp)
- create invoices: exceptions check + one INSERT ... SELECT
- post:           one UPDATE + an InvoicePosted event per invoice into the outbox
- pay all:        Received = Balance on every row (UPDATE) + Pay All Selected (INSERT ... SELECT, UPDATE,
                  PaymentRecorded events per 1,000 invoices)

Baseline: one executemany INSERT of the same N entry rows (SQLAlchemy Core, one transaction),
measured in the same run; the ratio is step time / baseline time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import invoicing
from agency_common.contracts.intake import StatementLine, StatementLinesPublished, StatementPublished
from agency_common.db.engine import Database
from agency_common.db.migrate import upgrade
from agency_common.outbox.unit_of_work import UnitOfWork
from invoicing import tables
from invoicing.invoices import usecases as invoice_uc
from invoicing.models import PolicyView, Reconciliation, StatementEntry, messaging
from invoicing.payments import usecases as pay_uc
from invoicing.reconciliations import status as rec_status
from invoicing.statement_entry import from_statements
from invoicing.statement_entry import queries as entry_queries
from invoicing.statement_entry import schemas as entry_schemas
from invoicing.statement_entry import usecases as entry_uc
from sqlalchemy import delete, func, insert, select

MIGRATIONS = Path(invoicing.__file__).parent / "migrations"
CHUNK = 1000


def policies(n: int) -> list[dict]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return [{"policy_id": f"p{i}", "version": 1, "carrier": "Bench Mutual", "policy_number": f"BM-{i:07d}",
             "client_name": f"Client {i}", "line_of_business": "AUTOP", "in_history": False,
             "effective_date": date(2026, 1, 1), "expiration_date": date(2027, 1, 1),
             "estimated_premium": Decimal("1000.00"), "commission_rate_type": "percent",
             "commission_rate": Decimal("0.10"), "estimated_agency_commission": Decimal("100.00"),
             "updated_at": now} for i in range(n)]


def lines(n: int) -> list[StatementLine]:
    return [StatementLine(line_id=f"l{i}", line_no=i + 2, policy_id=f"p{i}", policy_number=f"BM-{i:07d}",
                          insured_name=f"Client {i}", transaction_type="RWL", effective_date=date(2026, 1, 1),
                          expiration_date=date(2027, 1, 1), premium=Decimal("1000.00"),
                          commission_rate=Decimal("0.10"), commission_amount=Decimal("100.00"))
            for i in range(n)]


async def run(url: str, n: int) -> dict[str, tuple[float, int]]:
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    db = Database(url)
    uow = UnitOfWork(db, messaging, producer="invoicing")
    results: dict[str, tuple[float, int]] = {}

    async def timed(name: str, coro_fn, count: int) -> None:
        t0 = time.perf_counter()
        await coro_fn()
        results[name] = (time.perf_counter() - t0, count)
        print(f"  {name:<16} {results[name][0]:7.2f} s  {count / results[name][0]:>10,.0f} rows/s", flush=True)

    async with db.transaction() as s:
        await s.execute(insert(PolicyView.__table__), policies(n))
    sid = str(uuid.uuid4())
    all_lines = lines(n)
    chunks = [all_lines[i:i + CHUNK] for i in range(0, n, CHUNK)]

    # baseline: one executemany of the same rows, into a scratch reconciliation, then removed
    now = datetime.now(UTC)
    rows = [from_statements._entry_from_line("baseline", ln, now, "bench") for ln in all_lines]

    async def baseline() -> None:
        async with db.transaction() as s:
            await s.execute(insert(StatementEntry.__table__), rows)
    await timed("executemany", baseline, n)
    async with db.transaction() as s:
        await s.execute(delete(StatementEntry.__table__).where(StatementEntry.__table__.c.reconciliation_id == "baseline"))

    async def load() -> None:
        async with uow(actor="bench") as tx:
            await from_statements.on_statement_published(tx, StatementPublished(
                statement_id=sid, carrier="Bench Mutual", file_name="bench.csv", line_count=n,
                chunk_count=len(chunks), premium_total=Decimal(1000 * n), commission_total=Decimal(100 * n)))
        for i, chunk in enumerate(chunks, 1):
            async with uow(actor="bench") as tx:
                await from_statements.on_statement_lines(tx, StatementLinesPublished(
                    statement_id=sid, chunk_no=i, chunk_count=len(chunks), lines=chunk))
    await timed("load", load, n)
    async with db.session() as s:
        rec_id = await s.scalar(select(tables.REC.c.id).where(tables.REC.c.statement_id == sid))
        ids = [(r.id, r.version) for r in (await s.execute(select(tables.E.c.id, tables.E.c.version).where(
            tables.E.c.reconciliation_id == rec_id).order_by(tables.E.c.id))).all()]

    async def save() -> None:
        for i in range(0, len(ids), CHUNK):
            edits = [entry_schemas.EntryEdit(id=eid, version=v, rate="12%") for eid, v in ids[i:i + CHUNK]]
            async with uow(actor="bench") as tx:
                await entry_uc.save_entries(tx, rec_id, edits)
    await timed("save", save, n)

    async def select_all() -> None:
        async with uow(actor="bench") as tx:
            await entry_uc.select_entries(tx, rec_id, True, filters=entry_schemas.EntryFilters())
    await timed("select all", select_all, n)

    async def create() -> None:
        async with uow(actor="bench") as tx:
            r = await invoice_uc.create_invoices(tx, rec_id, key="bench-create")
            assert r["created"] == n, r["created"]
    await timed("create invoices", create, n)

    async def post() -> None:
        async with uow(actor="bench") as tx:
            r = await invoice_uc.post_invoices(tx, rec_id, key="bench-post")
            assert r["posted"] == n
    await timed("post", post, n)

    async def pay_all() -> None:
        async with uow(actor="bench") as tx:
            await pay_uc.select_all_transactions(tx, rec_id)
        async with uow(actor="bench") as tx:
            r = await pay_uc.pay_selected(tx, rec_id, key="bench-pay")
            assert r["paid"] == n
    await timed("pay all", pay_all, n)

    async with db.session() as s:
        for label, filters, offset in (
                ("page: 50 rows, default order, offset 0", entry_schemas.EntryFilters(), 0),
                ("page: 50 rows, default order, offset 50,000", entry_schemas.EntryFilters(), n // 2),
                ("page: 50 rows, sorted by client desc, offset 50,000", entry_schemas.EntryFilters(sort1="client", order1="desc"),
                 n // 2),
                ("page: policy-number quick search", entry_schemas.EntryFilters(policy="BM-00123"), 0)):
            t0 = time.perf_counter()
            page = await entry_queries.search_entries(s, rec_id, filters, 50, offset)
            results[label] = (time.perf_counter() - t0, len(page["items"]))
            print(f"  {label}: {results[label][0] * 1000:.0f} ms", flush=True)
        head = await rec_status.totals(s, await s.get(Reconciliation, rec_id))
        events = await s.scalar(select(func.count()).select_from(messaging.outbox))
    assert head["received_total"] == Decimal(12 * n) * 10 and head["paid_count"] == n, head
    print(f"  outbox events {events}", flush=True)
    await db.dispose()
    return results


def table(results: dict[str, tuple[float, int]], label: str) -> str:
    base = results["executemany"][0]
    out = [f"| step ({label}) | seconds | entries/s | ratio to executemany |", "| --- | ---: | ---: | ---: |"]
    for name, (secs, count) in results.items():
        if name.startswith("page"):
            out.append(f"| {name} | {secs:.3f} | | |")
        else:
            out.append(f"| {name} | {secs:.2f} | {count / secs:,.0f} | {secs / base:.2f} |")
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        name = f"bench_invoicing_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            print(f"PostgreSQL, {args.rows:,} rows")
            results = await run(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args.rows)
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
        print(table(results, "PostgreSQL"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, {args.rows:,} rows")
            results = await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.rows)
        print(table(results, "SQLite"))


if __name__ == "__main__":
    asyncio.run(main())
