"""reporting's subscriptions: every other service's events, and every dead-letter topic."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from agency_common.contracts import topics
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.registry import registry
from agency_common.messaging.consumer import EventConsumer, Incoming
from agency_common.outbox import Transaction
from reporting.models import DeadLetterCount, EventCount

OWN_TOPICS = {topics.REPORTING_TEAM_SCREENS}


async def count_event(tx: Transaction, event: Envelope[Any]) -> None:
    topic = type(event.payload).topic
    day = event.occurred_at.date()
    result = await tx.session.execute(
        update(EventCount)
        .where(EventCount.topic == topic, EventCount.event_type == event.type, EventCount.day == day)
        .values(count=EventCount.count + 1)
    )
    if result.rowcount == 0:
        tx.session.add(EventCount(topic=topic, event_type=event.type, day=day, count=1))
        await tx.session.flush()


async def count_dead_letter(tx: Transaction, message: Incoming) -> None:
    original = message.headers.get("x-original-topic") or message.topic.removesuffix(topics.DLT_SUFFIX)
    result = await tx.session.execute(
        update(DeadLetterCount).where(DeadLetterCount.topic == original).values(count=DeadLetterCount.count + 1)
    )
    if result.rowcount == 0:
        tx.session.add(DeadLetterCount(topic=original, count=1))
        await tx.session.flush()


def subscribe(consumer: EventConsumer) -> None:
    for topic, types in registry().items():
        if topic in OWN_TOPICS:
            continue
        for payload_type in types.values():
            consumer.on(payload_type, count_event)
    for topic in topics.ALL_TOPICS:
        consumer.on_raw(topics.dlt(topic), count_dead_letter)
