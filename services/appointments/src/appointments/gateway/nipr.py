"""The NIPR client interface and its simulator."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

from agency_common.contracts.appointments import GatewayTransaction


@dataclass(frozen=True)
class NiprAnswer:
    outcome: Literal["accepted", "rejected"]
    reason: str | None
    reference: str


class NiprClient(Protocol):
    async def submit(self, transaction: GatewayTransaction) -> NiprAnswer: ...


class SimulatedNipr:
    """Answers like NIPR would, deterministically per transaction (the appointments issue adds
    per-state rules, delays and failures)."""

    async def submit(self, transaction: GatewayTransaction) -> NiprAnswer:
        digest = hashlib.sha256(transaction.idempotency_key.encode()).hexdigest()[:8].upper()
        return NiprAnswer("accepted", None, f"GT-{digest}")
