"""Benchmark: does a large CSV export hold the event loop? (issue 19, item 10)

100,000 individuals with four encrypted PII fields, loaded straight into intake's table (not measured).
Then the Individual Advanced Search export (``POST /api/individuals/search.csv``, every row, PII
decrypted) runs in-process while ``/healthz`` is asked every 20 ms: the healthz latencies (p50, p95,
worst) during the export, the export's own time, and the loop's stalls (how late a 10 ms sleep wakes). The app runs without its broker (not needed here).

    .venv/bin/python bench/export_loop.py
    .venv/bin/python bench/export_loop.py --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx
from agency_common.auth import User
from agency_common.pii import PiiCipher
from intake.app import create_app
from intake.models import Individual
from intake.settings import IntakeSettings
from intake_import import drop_database, new_database
from sqlalchemy import insert

from tests.support.inprocess import migrate


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--individuals", type=int, default=100_000)
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, pg_name = await new_database(args.database, tmp)
        try:
            await migrate("intake", url)
            app = create_app(IntakeSettings(database_url=url, data_dir=tmp / "d", kafka_bootstrap_servers="127.0.0.1:1",
                                            pii_keys=PiiCipher.generate_key(), log_level="WARNING"))
            rt = app.state.runtime
            now = datetime.now(UTC)
            pii = {f: rt.pii.encrypt(v) for f, v in (("ssn_enc", "123-45-6789"), ("dob_enc", "1950-01-02"),
                                                     ("medicare_id_enc", "1EG4TE5MK73"),
                                                     ("drivers_license_enc", "D1234567"))}
            rows = [{"id": str(uuid.uuid4()), "version": 1, "first_name": f"F{i % 997}", "last_name": f"L{i:06d}",
                     "state": "TX", "record_status": "active", "custom_fields": "[]", "created_by": "bench",
                     "created_at": now, "updated_at": now, **pii} for i in range(args.individuals)]
            async with rt.db.transaction() as s:
                for i in range(0, len(rows), 20_000):
                    await s.execute(insert(Individual.__table__), rows[i:i + 20_000])
            del rows
            token = rt.tokens.issue(User("bench", groups=("admins",), permissions=frozenset({"*"})))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                         headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
                t0 = time.perf_counter()
                export = asyncio.create_task(client.post("/api/individuals/search.csv", json={}))
                stalls: list[float] = []

                async def watch_loop() -> None:  # how late a 10 ms sleep wakes: the loop's stalls
                    while not export.done():
                        t = time.perf_counter()
                        await asyncio.sleep(0.01)
                        stalls.append(time.perf_counter() - t - 0.01)

                watcher = asyncio.create_task(watch_loop())
                latencies = []
                while not export.done():
                    t = time.perf_counter()
                    assert (await client.get("/healthz")).status_code == 200
                    latencies.append(time.perf_counter() - t)
                    await asyncio.sleep(0.02)
                body = (await export).content
                took = time.perf_counter() - t0
                await watcher
            latencies.sort()
            p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
            print(f"| export of {args.individuals:,} individuals ({args.database}, {len(body) / 1e6:.1f} MB) | "
                  f"{took:.1f} s | healthz during it: {len(latencies)} answers, p50 "
                  f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                  f"worst {latencies[-1] * 1000:.0f} ms | longest loop stall {max(stalls) * 1000:.0f} ms, "
                  f"stalls over 100 ms: {sum(x > 0.1 for x in stalls)} |")
        finally:
            await drop_database(pg_name)


if __name__ == "__main__":
    asyncio.run(main())
