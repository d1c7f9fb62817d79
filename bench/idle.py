"""Benchmark: the CPU of an idle platform, and how fast it wakes when work arrives (issue 17, item 4).

Starts the whole platform as ``make run`` does on its embedded defaults (the Tansu broker, then the
four services and the NIPR gateway as separate processes, each migrated and on its own SQLite
database; no setting changed), waits until every process is healthy and then lets it rest, then
measures each process's CPU (its own and its children's, from /proc/<pid>/stat) over a window and the
requests the broker receives from each (TCP data segments, from ``ss``). Then it measures the latency
of one event end to end after rest: a policy created by hand in intake (HTTP, committed with its
outbox row) until reporting's operations view has counted its ``intake.policy.created`` (the relay,
the broker and reporting's consumer, each idle before).

    .venv/bin/python bench/idle.py                  # a minute at rest, a minute measured
    .venv/bin/python bench/idle.py --rest 20 --window 20 --probes 3
    .venv/bin/python bench/idle.py --demo           # with the demo dataset loaded first
    .venv/bin/python bench/idle.py --broker-only    # the broker alone, no client at all
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
from agency_common.auth import TokenService, UserDirectory
from agency_common.messaging.admin import ensure_topics
from agency_common.pii import PiiCipher
from agency_platform.demo import load_on_first_start
from agency_platform.launcher import (
    DEFAULT_GROUPS,
    SERVICES,
    Platform,
    free_port,
    start_broker,
    wait_all_healthy,
    write_users_file,
)

TICKS = os.sysconf("SC_CLK_TCK")


# -- measuring --------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks used: user + system) of one process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return int(fields[1]), int(fields[11]) + int(fields[12])


def cpu_ticks(roots: dict[str, int]) -> dict[str, int]:
    """CPU ticks per named process, its descendants included (intake's reading child, a worker)."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p))) is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for name, root in roots.items():
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, (0, 0))[1]
            todo += children.get(pid, [])
        out[name] = total
    return out


def segments_to_broker(broker_port: int) -> dict[int, int]:
    """Data segments each client process has sent to the broker (one Kafka request is one segment
    here: small requests on loopback), by pid."""
    out = subprocess.run(["ss", "-tinpH", "state", "established", f"( dport = :{broker_port} )"],
                         capture_output=True, text=True, check=False).stdout
    per_pid: dict[int, int] = {}
    pid = None
    for line in out.splitlines():
        if m := re.search(r"pid=(\d+)", line):
            pid = int(m.group(1))
        if pid is not None and (m := re.search(r"data_segs_out:(\d+)", line)):
            per_pid[pid] = per_pid.get(pid, 0) + int(m.group(1))
            pid = None
    return per_pid


def measure(roots: dict[str, int], seconds: float, broker_port: int | None) -> list[tuple[str, float, float | None]]:
    """(name, % of one core, broker requests/s) per process over ``seconds``."""
    before, segs_before, t0 = cpu_ticks(roots), segments_to_broker(broker_port) if broker_port else {}, time.monotonic()
    time.sleep(seconds)
    after, segs_after, elapsed = cpu_ticks(roots), segments_to_broker(broker_port) if broker_port else {}, \
        time.monotonic() - t0
    rows = []
    for name, pid in roots.items():
        pct = 100.0 * (after[name] - before[name]) / TICKS / elapsed
        reqs = None
        if broker_port and name != "broker":
            reqs = (segs_after.get(pid, 0) - segs_before.get(pid, 0)) / elapsed
        rows.append((name, pct, reqs))
    return rows


def print_table(rows: list[tuple[str, float, float | None]], seconds: float) -> None:
    print(f"\nCPU over {seconds:.0f} s at rest (load average {os.getloadavg()[0]:.2f}):")
    print(f"  {'process':<14}{'% of one core':>14}{'broker req/s':>14}")
    for name, pct, reqs in rows:
        print(f"  {name:<14}{pct:>14.2f}{'' if reqs is None else f'{reqs:.1f}':>14}")
    total_reqs = sum(r for _, _, r in rows if r is not None)
    print(f"  {'total':<14}{sum(p for _, p, _ in rows):>14.2f}{total_reqs:>14.1f}")


# -- the latency of one event after rest ------------------------------------------------------------
def policy_created_count(reporting: httpx.Client) -> int:
    r = reporting.get("/api/operations/events")
    r.raise_for_status()
    return sum(row["count"] for row in r.json() if row["event_type"] == "intake.policy.created")


def probe_latency(intake: httpx.Client, reporting: httpx.Client, rest: float, probes: int) -> list[float]:
    """Seconds from a committed HTTP write in intake until reporting has counted its event, each after
    ``rest`` seconds of nothing (so every part on the way has gone idle)."""
    r = intake.post("/api/carriers", json={"name": "Idle Mutual"})
    assert r.status_code in (201, 409), r.text
    seen = policy_created_count(reporting)
    latencies = []
    for _ in range(probes):
        time.sleep(rest)
        r = intake.post("/api/policies", json={"carrier": "Idle Mutual", "policy_number": uuid.uuid4().hex[:12],
                                               "client_name": "Idle Client"})
        assert r.status_code == 201, r.text
        t0 = time.perf_counter()
        deadline = t0 + 30
        while (count := policy_created_count(reporting)) <= seen:
            if time.perf_counter() > deadline:
                raise TimeoutError("reporting never counted the policy")
            time.sleep(0.01)
        latencies.append(time.perf_counter() - t0)
        seen = count
    return latencies


# -- the run --------------------------------------------------------------------------------------
def broker_only(data_dir: Path, args: argparse.Namespace) -> None:
    port = free_port()
    broker = start_broker(port, log_file=data_dir / "broker.log")
    try:
        if args.topics:
            asyncio.run(ensure_topics(f"127.0.0.1:{port}"))
        time.sleep(args.rest)
        rows = measure({"broker": broker.pid}, args.window, None)
        print_table(rows, args.window)
    finally:
        broker.terminate()
        broker.wait(10)


def whole_platform(data_dir: Path, args: argparse.Namespace) -> None:
    users = data_dir / "users.yaml"
    password = secrets.token_urlsafe(12)
    write_users_file(users, {"admin": password}, DEFAULT_GROUPS)
    jwt_secret = secrets.token_urlsafe(48)
    user = UserDirectory.from_file(users).authenticate("admin", password)
    assert user is not None
    token = TokenService(jwt_secret).issue(user)
    ports = {spec.name: free_port() for spec in SERVICES}
    urls = {name: f"http://127.0.0.1:{p}" for name, p in ports.items()}
    env = {**os.environ, "AGENCY_JWT_SECRET": jwt_secret, "AGENCY_USERS_FILE": str(users),
           "AGENCY_PII_KEYS": PiiCipher.generate_key(), "AGENCY_DATA_DIR": str(data_dir),
           "AGENCY_ENVIRONMENT": "development",
           "AGENCY_DASHBOARD_URLS": ",".join(f"{n}={urls[n]}" for n in
                                             ("intake", "invoicing", "appointments", "reporting"))}
    platform = Platform(env=env)
    try:
        broker_port = free_port()
        platform.broker = start_broker(broker_port, log_file=data_dir / "broker.log")
        bootstrap = f"127.0.0.1:{broker_port}"
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        asyncio.run(ensure_topics(bootstrap))
        (data_dir / "logs").mkdir()
        for spec in SERVICES:
            db_url = f"sqlite+aiosqlite:///{(data_dir / spec.name).resolve()}.db"
            platform.migrate(spec, db_url)
            platform.start(spec, db_url, ports[spec.name], log_file=data_dir / "logs" / f"{spec.name}.log")
        wait_all_healthy({s.name: (urls[s.name], platform.processes[s.name], data_dir / "logs" / f"{s.name}.log")
                          for s in SERVICES})
        if args.demo:
            load_on_first_start(data_dir, urls, password, bootstrap, setting="1")
        print(f"healthy; resting {args.rest:.0f} s", flush=True)
        time.sleep(args.rest)
        roots = {"broker": platform.broker.pid} | {name: p.pid for name, p in platform.processes.items()}
        print_table(measure(roots, args.window, broker_port), args.window)
        if args.probes:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=urls["intake"], headers=headers, timeout=30) as intake, \
                    httpx.Client(base_url=urls["reporting"], headers=headers, timeout=30) as reporting:
                lat = probe_latency(intake, reporting, args.probe_rest, args.probes)
            print(f"\none event end to end after {args.probe_rest:.0f} s at rest (intake HTTP write → reporting "
                  f"counted it), {len(lat)} probes: " + ", ".join(f"{x * 1000:.0f} ms" for x in lat)
                  + f"; max {max(lat) * 1000:.0f} ms")
    finally:
        platform.stop_all()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rest", type=float, default=60.0, help="seconds at rest before measuring")
    ap.add_argument("--window", type=float, default=60.0, help="seconds measured")
    ap.add_argument("--probes", type=int, default=5, help="latency probes after the measurement (0: none)")
    ap.add_argument("--probe-rest", type=float, default=10.0, help="seconds at rest before each probe")
    ap.add_argument("--demo", action="store_true", help="load the demo dataset first (as a first make run)")
    ap.add_argument("--broker-only", action="store_true", help="the broker alone, without clients")
    ap.add_argument("--topics", action="store_true", help="with --broker-only: create the topics first")
    ap.add_argument("--keep", action="store_true", help="keep the data folder (logs, databases)")
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    print(f"data: {data_dir}; uptime: {os.getloadavg()}", flush=True)
    try:
        (broker_only if args.broker_only else whole_platform)(data_dir, args)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
