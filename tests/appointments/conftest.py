from __future__ import annotations

import pytest
from appointments.gateway.simulator import NiprSimulator


@pytest.fixture
def simulator() -> NiprSimulator:
    """NIPR with tiny delays and no random failures (tests inject failures explicitly)."""
    return NiprSimulator(delay_seconds=0.005, failure_rate=0.0, seed=7)


@pytest.fixture
async def gateway(start_service, simulator):
    return await start_service("gateway", create_app_kwargs={"client": simulator}, worker_poll_seconds=0.05,
                               submit_backoff_seconds=0.05)


def csv_bytes(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()
