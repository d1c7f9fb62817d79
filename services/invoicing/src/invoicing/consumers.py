"""invoicing's subscriptions: one line per event type."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import (
    PolicyCreated,
    PolicySnapshot,
    PolicyUpdated,
    StatementLinesPublished,
    StatementPublished,
)
from agency_common.messaging.consumer import EventConsumer
from agency_common.money import round_money
from agency_common.outbox import Transaction

from invoicing import usecases
from invoicing.models import PolicyView

READ_MODEL_FIELDS = [c for c in PolicyView.model_fields if c != "policy_id"]
MONEY_FIELDS = ("estimated_premium", "annualized_premium", "billed_premium", "estimated_agency_commission",
                "billed_agency_commission")


def _read_model_values(snapshot: PolicySnapshot) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(snapshot, f) for f in READ_MODEL_FIELDS}
    for name in MONEY_FIELDS:
        if values[name] is not None:
            values[name] = round_money(values[name])
    rate = values["commission_rate"]
    if rate is not None:
        rate = rate / 100 if rate > 1 else rate  # 15 meaning 15 %
        values["commission_rate"] = rate.quantize(Decimal("0.000001"))
    return values


async def apply_policy_snapshot(tx: Transaction, snapshot: PolicySnapshot) -> bool:
    """Upsert the read model; an older version never overwrites a newer one."""
    current = await tx.session.get(PolicyView, snapshot.policy_id)
    values = _read_model_values(snapshot)
    if current is None:
        policy = PolicyView(policy_id=snapshot.policy_id, **values)
        tx.session.add(policy)
        await tx.session.flush()
        await usecases.on_policy_known(tx, policy)
        return True
    if snapshot.version <= current.version:
        return False
    for name, value in values.items():
        setattr(current, name, value)
    return True


async def on_policy_event(tx: Transaction, event: Envelope[Any]) -> None:
    await apply_policy_snapshot(tx, event.payload.policy)


def subscribe(consumer: EventConsumer, business_timezone: str = "UTC") -> None:
    async def on_statement_published(tx: Transaction, event: Envelope[Any]) -> None:
        await usecases.on_statement_published(tx, event.payload, usecases.business_today(business_timezone))

    async def on_statement_lines(tx: Transaction, event: Envelope[Any]) -> None:
        await usecases.on_statement_lines(tx, event.payload, usecases.business_today(business_timezone))

    consumer.on(PolicyCreated, on_policy_event)
    consumer.on(PolicyUpdated, on_policy_event)
    consumer.on(StatementPublished, on_statement_published)
    consumer.on(StatementLinesPublished, on_statement_lines)
