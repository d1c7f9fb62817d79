"""Dead-lettering: a message refused for good is recorded in the service's ``dead_letters`` table
(for replay; its payload sealed at rest) and published with its original bytes and headers, and the
error in extra headers, to ``<topic>.dlt``."""

from __future__ import annotations

import asyncio
import json

from faststream.kafka import KafkaBroker

from agency_common.contracts.topics import dlt
from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.dead_letters import mask_error, seal
from agency_common.logging import get_logger
from agency_common.messaging.incoming import Incoming
from agency_common.metrics import ServiceMetrics
from agency_common.outbox.unit_of_work import UnitOfWork
from agency_common.pii import PiiCipher
from agency_common.timeutil import utcnow

log = get_logger(__name__)


class DeadLetters:
    def __init__(self, name: str, broker: KafkaBroker, uow: UnitOfWork, metrics: ServiceMetrics,
                 pii: PiiCipher | None) -> None:
        self.name, self.broker, self.uow, self.metrics, self.pii = name, broker, uow, metrics, pii
        self.table = uow.tables.dead_letters

    async def publish(self, refused: list[tuple[Incoming, Exception, int]]) -> None:
        """Record the messages in ``dead_letters`` (one transaction), then publish them to their
        dead-letter topics with the error headers (all awaited: if one fails, the caller reads them
        again, and the table's unique key keeps one row per message)."""
        if not refused:
            return
        rows, publishes = [], []
        for incoming, error, attempts in refused:
            record = incoming.record
            error_text = mask_error(f"{error}")[:4000]
            headers = incoming.headers
            dlt_headers = {
                **headers,
                "x-error": error_text[:1000],
                "x-error-type": type(error).__name__,
                "x-original-topic": record.topic,
                "x-original-partition": str(record.partition),
                "x-original-offset": str(record.offset),
                "x-attempts": str(attempts),
                "x-failed-at": utcnow().isoformat(),
                "x-consumer": self.name,
            }
            rows.append({
                "consumer": self.name,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "key": record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key,
                "event_id": headers.get("event_id") or (str(incoming.envelope.event_id) if incoming.envelope else None),
                "event_type": headers.get("event_type"),
                "error_type": type(error).__name__,
                "error": error_text,
                "attempts": attempts,
                "payload": seal(record.value or b"", self.pii),
                "headers": json.dumps(headers),
                "failed_at": utcnow(),
            })
            publishes.append((record, dlt_headers))
        async with self.uow.db.transaction() as session:
            await session.execute(insert_ignoring_conflicts(session, self.table), rows)
        await asyncio.gather(*(self.broker.publish(record.value or b"", topic=dlt(record.topic), key=record.key,
                                                   headers=dlt_headers) for record, dlt_headers in publishes))
        for (record, _), row in zip(publishes, rows, strict=True):
            self.metrics.dead_lettered.labels(record.topic).inc()
            self.metrics.events_consumed.labels(record.topic, "dead_lettered").inc()
            log.error(
                "message dead-lettered",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                attempts=row["attempts"],
                error_type=row["error_type"],
                error=row["error"][:500],
            )
