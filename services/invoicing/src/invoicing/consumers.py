"""invoicing's subscriptions: one line per event type."""

from __future__ import annotations

from typing import Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot, PolicyUpdated
from agency_common.messaging.consumer import EventConsumer
from agency_common.outbox import Transaction
from invoicing.models import PolicyView

READ_MODEL_FIELDS = [c for c in PolicyView.model_fields if c != "policy_id"]


async def apply_policy_snapshot(tx: Transaction, snapshot: PolicySnapshot) -> bool:
    """Upsert the read model; an older version never overwrites a newer one."""
    current = await tx.session.get(PolicyView, snapshot.policy_id)
    values: dict[str, Any] = {f: getattr(snapshot, f) for f in READ_MODEL_FIELDS}
    if current is None:
        tx.session.add(PolicyView(policy_id=snapshot.policy_id, **values))
        return True
    if snapshot.version <= current.version:
        return False
    for name, value in values.items():
        setattr(current, name, value)
    return True


async def on_policy_event(tx: Transaction, event: Envelope[Any]) -> None:
    await apply_policy_snapshot(tx, event.payload.policy)


def subscribe(consumer: EventConsumer) -> None:
    consumer.on(PolicyCreated, on_policy_event)
    consumer.on(PolicyUpdated, on_policy_event)
