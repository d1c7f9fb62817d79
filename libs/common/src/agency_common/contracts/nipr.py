"""Events the NIPR submission gateway publishes back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import event


@event
class TransactionResultReceived(EventPayload):
    topic = topics.NIPR_TRANSACTION_RESULTS
    event_type = "nipr.transaction-result.received"

    batch_id: str
    transaction_id: str
    idempotency_key: str
    outcome: Literal["accepted", "rejected"]
    reason: str | None = None
    nipr_reference: str | None = None
    processed_at: datetime

    def key(self) -> str:
        return self.batch_id
