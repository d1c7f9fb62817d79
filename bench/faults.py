"""The fault suite at full size (issue 20 item 3): runs ``tests/faults`` with every experiment scaled up
(``--scale 10``: the consumer kill over 100,000 events, the broker cut over 10,000 writes) and prints
one line per experiment: sent, applied, lost, doubled, recovery time. Figures go into
docs/RELIABILITY.md.

    .venv/bin/python bench/faults.py [--scale 10] [--postgres] [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="experiment sizes × this (CI runs 1)")
    parser.add_argument("--postgres", action="store_true", help="every service on PostgreSQL (127.0.0.1:5432)")
    parser.add_argument("-k", default=None, help="only the experiments matching this pytest expression")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.jsonl"
        env = {**os.environ, "AGENCY_FAULTS_SCALE": str(args.scale), "AGENCY_FAULTS_REPORT": str(report)}
        if args.postgres:
            env["AGENCY_TEST_DATABASE"] = "postgresql"
        command = [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider",
                   "-o", f"timeout={300 * args.scale}"] + (["-k", args.k] if args.k else [])
        code = subprocess.call(command, cwd=ROOT, env=env)
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\n| experiment ({database}, scale {args.scale}) | sent | applied | lost | doubled | recovery s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['experiment']} | {r['sent']:,} | {r['applied']:,} | {r['lost']} | {r['doubled']} | "
              f"{r['recovery_seconds']} |")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
