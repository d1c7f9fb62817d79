"""Events appointments owns: transaction batches for the NIPR submission gateway."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agency_common.contracts import topics
from agency_common.contracts.envelope import BULK_CHUNK, EventPayload
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
    for_cause: bool = False  # a termination for cause (NAIC form's "C" column)


@event
class TransactionBatchSubmitted(EventPayload):
    topic = topics.APPOINTMENTS_TRANSACTION_BATCHES
    event_type = "appointments.transaction-batch.submitted"

    batch_id: str
    cocode: str
    transactions: list[GatewayTransaction]

    def key(self) -> str:
        return self.batch_id


@event
class TransactionStatusChanged(EventPayload):
    """An appointment or termination transaction's state (for the operations views)."""

    topic = topics.APPOINTMENTS_TRANSACTIONS
    event_type = "appointments.transaction.status-changed"

    transaction_id: str
    batch_id: str | None = None
    kind: Literal["appointment", "termination"]
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    status: str  # e.g. Ready to Submit, JIT Held, Not Eligible, Submitted, Appointed, Rejected, Terminated
    eligibility_reason: str | None = None
    billable: bool = False
    fee: Decimal | None = None
    submitted_at: datetime | None = None
    answered_at: datetime | None = None
    changed_at: datetime

    def key(self) -> str:
        return self.npn


class TransactionStatus(BaseModel):
    """One transaction of a ``TransactionStatusesChanged`` chunk (the fields of ``TransactionStatusChanged``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    transaction_id: str
    batch_id: str | None = None
    kind: Literal["appointment", "termination"]
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    status: str
    eligibility_reason: str | None = None
    billable: bool = False
    fee: Decimal | None = None
    submitted_at: datetime | None = None
    answered_at: datetime | None = None
    changed_at: datetime


@event
class TransactionStatusesChanged(EventPayload):
    """A chunk of transactions whose state one bulk action changed (bulk appoint, bulk terminate, NIPR
    results): one event per chunk. Keyed by the first transaction's NPN; each status carries
    ``changed_at`` and the read models keep the newest."""

    topic = topics.APPOINTMENTS_TRANSACTIONS
    event_type = "appointments.transactions.status-changed"

    transactions: list[TransactionStatus] = Field(min_length=1, max_length=BULK_CHUNK)

    def key(self) -> str:
        return self.transactions[0].npn

    def entity_count(self) -> int:
        return len(self.transactions)


@event
class LicenseSyncRequested(EventPayload):
    """Ask the gateway for a producer's licenses from the NIPR PDB."""

    topic = topics.APPOINTMENTS_LICENSE_SYNC_REQUESTS
    event_type = "appointments.license-sync.requested"

    npn: str
    request_id: str

    def key(self) -> str:
        return self.npn


@event
class PortalInviteRequested(EventPayload):
    """An invitation for an email adapter to send (written to a folder in the embedded run)."""

    topic = topics.APPOINTMENTS_PORTAL_INVITES
    event_type = "appointments.portal-invite.requested"

    invite_id: str
    portal: str
    producer_npn: str
    email: str
    first_name: str
    last_name: str

    def key(self) -> str:
        return self.producer_npn
