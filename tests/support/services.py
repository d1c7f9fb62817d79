"""Run services as separate processes, exactly as ``make run`` does, for the cross-process tests."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from agency_platform.launcher import SERVICES, Platform, ServiceSpec, free_port, wait_healthy


def spec(name: str) -> ServiceSpec:
    return next(s for s in SERVICES if s.name == name)


@dataclass
class RunningService:
    name: str
    url: str
    database_url: str
    port: int
    log_file: Path


class ServiceHarness:
    """Starts, kills and restarts service processes against one broker."""

    def __init__(self, env: dict[str, str], databases: Any, log_dir: Path) -> None:
        self.platform = Platform(env={**os.environ, **env})
        self.databases = databases
        self.log_dir = log_dir
        self.running: dict[str, RunningService] = {}

    def start(self, name: str, database_url: str | None = None, extra_env: dict[str, str] | None = None) -> RunningService:
        s = spec(name)
        db_url = database_url or self.databases.new(name)
        port = free_port()
        if database_url is None:
            self.platform.migrate(s, db_url)
        saved = dict(self.platform.env)
        self.platform.env.update(extra_env or {})
        log_file = self.log_dir / f"{name}-{port}.log"
        try:
            proc = self.platform.start(s, db_url, port, log_file=log_file)
        finally:
            self.platform.env = saved
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, timeout=180, proc=proc)  # a loaded machine starts slowly
        svc = RunningService(name, url, db_url, port, log_file)
        self.running[name] = svc
        return svc

    def kill(self, name: str) -> None:
        """kill -9: no graceful shutdown, no final commit."""
        proc = self.platform.processes.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def restart(self, name: str, extra_env: dict[str, str] | None = None) -> RunningService:
        old = self.running[name]
        return self.start(name, database_url=old.database_url, extra_env=extra_env)

    def stop_all(self) -> None:
        self.platform.stop_all()

    def logs(self, name: str) -> str:
        return self.running[name].log_file.read_text(errors="replace")


def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.2, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}; last={last!r}")


def api(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
