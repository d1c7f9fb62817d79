"""FastStream Kafka broker from settings, with the delivery guarantees set explicitly.

aiokafka defaults to acks=1; we wait for all replicas. The embedded broker (Tansu) cannot do an
idempotent producer, so idempotence is off and consumers are idempotent instead (inbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from faststream.kafka import KafkaBroker

from agency_common.outbox.relay import PendingEvent
from agency_common.settings import ServiceSettings


def make_broker(settings: ServiceSettings, client_id: str | None = None) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id or settings.service_name,
        acks="all",
        enable_idempotence=False,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
        allow_auto_create_topics=False,
        graceful_timeout=15.0,
        logger=None,
    )


def kafka_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in headers.items()}


async def publish_pending(broker: KafkaBroker, events: Sequence[PendingEvent]) -> None:
    """Send a batch without waiting for each ack, then wait for every ack (raises on any failure)."""
    futures = []
    for ev in events:
        fut = await broker.publish(
            ev.payload,
            topic=ev.topic,
            key=ev.key.encode(),
            headers=kafka_headers(ev.headers),
            no_confirm=True,
        )
        futures.append(fut)
    await asyncio.gather(*futures)
