"""Write each service's AsyncAPI document into ``docs/asyncapi/`` (kept in the repository; a test
fails when a document is stale). ``python -m agency_platform.asyncapi_export``"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import yaml
from faststream.specification import AsyncAPI

from agency_platform.launcher import SERVICES


def render(module: str) -> str:
    app_module = importlib.import_module(f"{module}.app")
    settings_module = importlib.import_module(f"{module}.settings")
    settings_cls = next(v for k, v in vars(settings_module).items() if k.endswith("Settings") and k != "ServiceSettings")
    settings = settings_cls(kafka_bootstrap_servers="kafka:9092", database_url="sqlite+aiosqlite:///:memory:")
    app = app_module.create_app(settings)
    runtime = app.state.runtime
    runtime.consumer.register()
    spec = AsyncAPI(runtime.broker, title=f"{runtime.title} events", version="1.0.0").to_specification()
    # FastStream's channel order varies between runs: sort keys so the kept document is stable.
    return yaml.safe_dump(json.loads(spec.to_json()), sort_keys=True, allow_unicode=True)


def main(out_dir: str = "docs/asyncapi") -> None:
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    for spec in SERVICES:
        (target / f"{spec.name}.yaml").write_text(render(spec.module))
        print(f"wrote {target / spec.name}.yaml")


if __name__ == "__main__":
    main(*sys.argv[1:])
