"""Write each service's AsyncAPI document into ``docs/asyncapi/`` (kept in the repository; a test
fails when a document is stale), and ``upstream.yaml``: what upstream systems publish to the platform
(docs/INTEGRATION.md). ``python -m agency_platform.asyncapi_export``"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import yaml
from agency_common.contracts import topics
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.registry import event_types
from faststream.kafka import KafkaBroker
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


UPSTREAM_TOPICS = (topics.UPSTREAM_CARRIER_STATEMENTS, topics.UPSTREAM_INDIVIDUALS, topics.UPSTREAM_POLICY_JOBS,
                   topics.UPSTREAM_ACTIVITIES)


def render_upstream() -> str:
    """The events upstream systems (carrier feeds, the CRM, the policy-administration system) send:
    no service publishes them, so they are documented from their contracts."""
    broker = KafkaBroker("kafka:9092")
    for topic in UPSTREAM_TOPICS:
        for cls in event_types(topic).values():
            broker.publisher(topic, title=f"{topic}:{cls.event_type}", schema=Envelope[cls],  # type: ignore[valid-type]
                             description=(cls.__doc__ or "").strip() or None)
    spec = AsyncAPI(broker, title="Upstream systems' events (sent to the agency platform)", version="1.0.0",
                    description="See docs/INTEGRATION.md: envelope, headers, keys, versions, errors.")
    return yaml.safe_dump(json.loads(spec.to_specification().to_json()), sort_keys=True, allow_unicode=True)


def main(out_dir: str = "docs/asyncapi") -> None:
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    for spec in SERVICES:
        (target / f"{spec.name}.yaml").write_text(render(spec.module))
        print(f"wrote {target / spec.name}.yaml")
    (target / "upstream.yaml").write_text(render_upstream())
    print(f"wrote {target / 'upstream.yaml'}")


if __name__ == "__main__":
    main(*sys.argv[1:])
