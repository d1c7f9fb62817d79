"""Events intake owns: the book of business (policies), statements, sessions, sales records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import event


class PolicySnapshot(BaseModel):
    """A policy as intake knows it; read models elsewhere are built from these snapshots."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    policy_id: str
    version: int  # increases with every change: read models ignore older snapshots
    carrier: str
    policy_number: str
    client_id: str | None = None
    client_name: str
    bill_to_name: str | None = None
    line_of_business: str | None = None
    business_type: str | None = None
    mode: str | None = None
    status: str | None = None
    in_history: bool = False
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = None
    annualized_premium: Decimal | None = None
    billed_premium: Decimal | None = None
    commission_rate_type: Literal["percent", "flat"] | None = None
    commission_rate: Decimal | None = None
    estimated_agency_commission: Decimal | None = None
    billed_agency_commission: Decimal | None = None
    branch: str | None = None
    department: str | None = None
    unit: str | None = None
    servicing_agent: str | None = None
    session_id: str | None = None
    updated_at: datetime


@event
class PolicyCreated(EventPayload):
    topic = topics.INTAKE_POLICIES
    event_type = "intake.policy.created"

    policy: PolicySnapshot

    def key(self) -> str:
        return self.policy.policy_id


@event
class PolicyUpdated(EventPayload):
    topic = topics.INTAKE_POLICIES
    event_type = "intake.policy.updated"

    policy: PolicySnapshot
    changed_fields: list[str] = []

    def key(self) -> str:
        return self.policy.policy_id
