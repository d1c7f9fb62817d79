"""Events appointments owns: transaction batches for the NIPR submission gateway."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import event


class GatewayTransaction(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    transaction_id: str
    idempotency_key: str  # the gateway never submits the same key to NIPR twice
    kind: Literal["appointment", "termination"]
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    termination_reason_code: str | None = None


@event
class TransactionBatchSubmitted(EventPayload):
    topic = topics.APPOINTMENTS_TRANSACTION_BATCHES
    event_type = "appointments.transaction-batch.submitted"

    batch_id: str
    cocode: str
    transactions: list[GatewayTransaction]

    def key(self) -> str:
        return self.batch_id
