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
