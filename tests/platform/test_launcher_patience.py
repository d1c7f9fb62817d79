"""`make run` on a loaded machine (issue 20 item 5): the launcher waits for a slow service with its
progress printed and, past a while, the slow one's log tail; the healthy ones are never stopped for it;
a service that dies while starting is an error that shows its log."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from agency_platform.launcher import free_port, wait_all_healthy


def fake_service(tmp_path: Path, name: str, *, up_after: float = 0.0, exit_code: int | None = None):
    """A real process on a real port: it logs, waits ``up_after`` seconds, then serves /healthz."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "healthz").write_text("ok")
    port = free_port()
    log = tmp_path / f"{name}.log"
    body = (f"import sys, time, http.server, functools; print('{name}: migrating the database', flush=True); "
            + (f"sys.exit({exit_code})" if exit_code is not None else
               f"time.sleep({up_after}); print('{name}: listening', flush=True); "
               f"http.server.ThreadingHTTPServer(('127.0.0.1', {port}), functools.partial("
               f"http.server.SimpleHTTPRequestHandler, directory='{folder}')).serve_forever()"))
    out = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-c", body], stdout=out, stderr=subprocess.STDOUT)
    return f"http://127.0.0.1:{port}", proc, log


def test_a_slow_service_is_waited_for_with_progress_and_its_log(tmp_path: Path) -> None:
    fast = fake_service(tmp_path, "intake")
    slow = fake_service(tmp_path, "gateway", up_after=8)
    said: list[str] = []
    try:
        wait_all_healthy({"intake": fast, "gateway": slow}, progress_every=0.3, explain_after=1.0,
                         say=said.append)
        assert said[0].startswith("  intake is up") and said[-1].startswith("  gateway is up"), said
        assert any("still starting" in line and "gateway" in line and "intake" not in line for line in said)
        explained = next(line for line in said if "gateway is slow to start" in line)
        assert "gateway: migrating the database" in explained, "the slow one's log tail says where it is"
        assert fast[1].poll() is None, "the healthy service was left running while the slow one started"
    finally:
        for proc in (fast[1], slow[1]):
            proc.kill()
            proc.wait()


def test_a_service_that_dies_while_starting_is_an_error_with_its_log(tmp_path: Path) -> None:
    dead = fake_service(tmp_path, "invoicing", exit_code=3)
    try:
        with pytest.raises(RuntimeError) as refused:
            deadline = time.monotonic() + 60
            while dead[1].poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            wait_all_healthy({"invoicing": dead}, say=lambda _line: None)
        assert "invoicing exited with 3" in str(refused.value)
        assert "invoicing: migrating the database" in str(refused.value)
    finally:
        dead[1].kill()
        dead[1].wait()


def test_the_launcher_stopped_while_starting_stops_what_it_started(tmp_path: Path) -> None:
    """SIGTERM during start-up (an impatient user, a supervisor): no service is left running alone."""
    import os
    import signal

    env = {**os.environ, "AGENCY_DATA_DIR": str(tmp_path / "data"), "AGENCY_DEMO_DATA": "0"}
    launcher = subprocess.Popen([sys.executable, "-m", "agency_platform.launcher"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = tmp_path / "data" / "logs" / "intake.log"
    deadline = time.monotonic() + 240
    while not log.exists() and time.monotonic() < deadline:  # the first service is starting
        time.sleep(0.2)
    assert log.exists(), "the launcher never started a service"
    launcher.send_signal(signal.SIGTERM)
    out = launcher.communicate(timeout=120)[0].decode(errors="replace")
    assert launcher.returncode == 130, out
    assert "stopped." in out
    left = [p for p in os.listdir("/proc") if p.isdigit() and _in_data_dir(p, str(tmp_path / "data"))]
    assert left == [], f"processes left running: {left}"


def _in_data_dir(pid: str, data_dir: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"AGENCY_DATA_DIR={data_dir}".encode() in f.read().split(b"\0")
    except OSError:
        return False
