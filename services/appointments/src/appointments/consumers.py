"""appointments' subscriptions."""

from __future__ import annotations

from typing import Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.nipr import TransactionResultReceived
from agency_common.messaging.consumer import EventConsumer
from agency_common.outbox import Transaction
from appointments.usecases import apply_nipr_result


async def on_nipr_result(tx: Transaction, event: Envelope[Any]) -> None:
    await apply_nipr_result(tx, event.payload)


def subscribe(consumer: EventConsumer) -> None:
    consumer.on(TransactionResultReceived, on_nipr_result)
