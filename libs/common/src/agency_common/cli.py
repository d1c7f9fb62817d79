"""The command line every service has: ``python -m <service> serve|migrate``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from agency_common.db.migrate import upgrade
from agency_common.settings import ServiceSettings


def service_main(
    settings_factory: Callable[[], ServiceSettings],
    create_app: Callable[[Any], Any],
    migrations_dir: Path,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP API, dashboard and event consumers")
    mig = sub.add_parser("migrate", help="bring the service's database to the latest schema")
    mig.add_argument("--revision", default="head")
    args = parser.parse_args(argv)
    os.umask(0o077)  # databases, uploads and logs this process writes are its owner's only
    settings = settings_factory()
    if args.command == "migrate":
        if settings.is_sqlite:
            _sqlite_parent(settings.database_url).mkdir(parents=True, exist_ok=True)
        upgrade(migrations_dir, settings.database_url, args.revision)
        return
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _sqlite_parent(url: str) -> Path:
    path = url.split(":///", 1)[1]
    return Path(path).parent
