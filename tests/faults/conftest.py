"""The fault suite (issue 20 item 3): experiments on real processes, a real broker and a real database,
each reporting what it sent, applied, lost and doubled and how long recovery took. Every test here is
marked ``faults``; ``make test`` runs them at their CI size, ``bench/faults.py`` at full size
(``AGENCY_FAULTS_SCALE``: 1 in CI, 10 for the full runs recorded in docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

SCALE = max(1, int(os.environ.get("AGENCY_FAULTS_SCALE", "1")))
REPORT = os.environ.get("AGENCY_FAULTS_REPORT")  # a JSON-lines file the bench collects


def scaled(n: int) -> int:
    """An experiment's size at this run's scale."""
    return n * SCALE


@dataclass
class FaultReport:
    experiment: str
    sent: int = 0
    applied: int = 0
    lost: int = 0
    doubled: int = 0
    recovery_seconds: float | None = None
    notes: dict[str, object] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def recovered(self) -> None:
        self.recovery_seconds = round(time.monotonic() - self.started, 1)

    def publish(self) -> None:
        line = {k: v for k, v in asdict(self).items() if k != "started"} | {"scale": SCALE}
        print("FAULTS", json.dumps(line))
        if REPORT:
            with Path(REPORT).open("a") as f:
                f.write(json.dumps(line) + "\n")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)
