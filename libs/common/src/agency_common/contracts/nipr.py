"""Events the NIPR submission gateway publishes back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

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


class NiprLicense(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    state: str
    license_number: str
    license_class: str
    lines_of_authority: list[str]
    active: bool
    effective_date: date | None = None
    expiration_date: date | None = None
    resident: bool


@event
class LicensesFetched(EventPayload):
    """A producer's licenses as the PDB reports them (answer to a license sync request)."""

    topic = topics.NIPR_LICENSES
    event_type = "nipr.licenses.fetched"

    request_id: str
    npn: str
    found: bool
    active: bool = False  # the producer's NPN is active at NIPR
    first_name: str | None = None
    last_name: str | None = None
    licenses: list[NiprLicense] = []
    fetched_at: datetime

    def key(self) -> str:
        return self.npn
