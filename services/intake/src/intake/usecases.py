"""intake's use cases: called alike from HTTP routes and event consumers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select

from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from agency_common.money import round_money
from agency_common.outbox import Transaction
from intake.models import Policy


class NewPolicy(BaseModel):
    """A policy created by hand (it belongs to no Create-Policies session)."""

    carrier: str = Field(min_length=1, max_length=200)
    policy_number: str = Field(min_length=1, max_length=100)
    client_name: str = Field(min_length=1, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default="active", max_length=50)
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)

    @field_validator("carrier", "policy_number", "client_name")
    @classmethod
    def _stripped(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class DuplicatePolicy(ValueError):
    pass


def snapshot(policy: Policy) -> PolicySnapshot:
    return PolicySnapshot(
        policy_id=policy.id,
        version=policy.version,
        carrier=policy.carrier,
        policy_number=policy.policy_number,
        client_name=policy.client_name,
        line_of_business=policy.line_of_business,
        status=policy.status,
        effective_date=policy.effective_date,
        expiration_date=policy.expiration_date,
        estimated_premium=policy.estimated_premium,
        annualized_premium=policy.annualized_premium,
        billed_premium=policy.billed_premium,
        session_id=policy.session_id,
        updated_at=policy.updated_at,
    )


async def create_policy(tx: Transaction, data: NewPolicy) -> Policy:
    exists = await tx.session.scalar(
        select(func.count()).select_from(Policy).where(
            Policy.carrier == data.carrier, Policy.policy_number == data.policy_number
        )
    )
    if exists:
        raise DuplicatePolicy(f"policy {data.policy_number} already exists for carrier {data.carrier}")
    policy = Policy(
        **data.model_dump(exclude={"estimated_premium"}),
        estimated_premium=round_money(data.estimated_premium) if data.estimated_premium is not None else None,
        created_by=tx.actor,
    )
    tx.session.add(policy)
    await tx.session.flush()
    await tx.emit(PolicyCreated(policy=snapshot(policy)))
    return policy
