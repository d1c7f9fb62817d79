"""Token revocations seen by every instance of every service (issue 19 item 5).

A revocation (a logout, a rotated or reused refresh token, a removed user) goes on the revoking
instance's deny list at once and is published to ``platform.tokens.revoked``. Every instance reads
that topic whole, with no consumer group (each must see every message, and there are no offsets to
commit), from "now minus the longest session" (``offsets_for_times``), into its in-memory
``DenyList``; an entry is dropped when the tokens it refuses have expired anyway.

Why a topic and not a table: every service already talks to Kafka, a topic needs no migration, and
an instance that starts reads back the revocations still in force. Its price: while the broker is
away, the other instances learn of a revocation only when it is back (the revoking one refuses at
once), and a revocation not yet published when its process dies is lost: that token stays valid
until it expires (an access token: minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agency_common.auth import DenyList, Revocation
from agency_common.logging import get_logger
from agency_common.messaging.admin import ensure_topics
from agency_common.messaging.connection import client_options
from agency_common.settings import ServiceSettings

TOPIC = "platform.tokens.revoked"
MAX_PENDING = 100_000

log = get_logger(__name__)


def encode(revocation: Revocation) -> bytes:
    return json.dumps({"id": revocation.token_id, "until": revocation.until, "reason": revocation.reason}).encode()


def decode(value: bytes | None) -> Revocation | None:
    try:
        data = json.loads(value or b"")
        return Revocation(str(data["id"]), float(data["until"]), str(data.get("reason", "")))
    except (ValueError, KeyError, TypeError):
        return None  # not ours: skipped, never fatal


class RevocationFeed:
    """Publishes this instance's revocations and reads everyone's into ``denylist``."""

    def __init__(self, settings: ServiceSettings, denylist: DenyList) -> None:
        self.settings = settings
        self.denylist = denylist
        self.lookback_seconds = settings.refresh_ttl_minutes * 60
        self.caught_up = asyncio.Event()  # the revocations in force at start have been read
        self._pending: deque[Revocation] = deque(maxlen=MAX_PENDING)
        self._wake = asyncio.Event()

    def submit(self, revocation: Revocation) -> None:
        """Queue a revocation for publishing (the caller has put it on its own deny list already)."""
        self._pending.append(revocation)
        self._wake.set()

    async def _topic(self) -> None:
        await ensure_topics(self.settings.kafka_bootstrap_servers, [TOPIC], partitions=1,
                            timeout_seconds=3600 * 24, settings=self.settings)

    async def publish_loop(self) -> None:
        """Send what is queued; a broker that is away is tried again with back-off."""
        producer: AIOKafkaProducer | None = None
        delay = 0.5
        try:
            while True:
                if not self._pending:
                    self._wake.clear()
                    await self._wake.wait()
                try:
                    if producer is None:
                        await self._topic()
                        producer = AIOKafkaProducer(
                            bootstrap_servers=self.settings.kafka_bootstrap_servers,
                            client_id=f"{self.settings.service_name}-revocations", acks="all",
                            enable_idempotence=False, request_timeout_ms=self.settings.kafka_request_timeout_ms,
                            **client_options(self.settings))
                        try:
                            await producer.start()
                        except BaseException:
                            with contextlib.suppress(Exception):
                                await producer.stop()
                            producer = None
                            raise
                    while self._pending:
                        revocation = self._pending[0]
                        await producer.send_and_wait(TOPIC, encode(revocation), key=revocation.token_id.encode())
                        self._pending.popleft()
                    delay = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - kept and tried again
                    log.warning("publishing token revocations failed", error=str(exc), pending=len(self._pending),
                                retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def read_loop(self) -> None:
        """Read every revocation still in force, then follow the topic; reconnects on failure."""
        delay = 0.5
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported, then read again from the look-back
                log.warning("reading token revocations failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _read(self) -> None:
        await self._topic()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None, enable_auto_commit=False,
            client_id=f"{self.settings.service_name}-revocations",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            request_timeout_ms=self.settings.kafka_request_timeout_ms, **client_options(self.settings))
        await consumer.start()
        try:
            partitions = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or {0})]
            consumer.assign(partitions)
            since_ms = int((time.time() - self.lookback_seconds) * 1000)
            found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
            for tp in partitions:
                at = found.get(tp)
                if at is None:  # nothing that recent: only what comes next
                    await consumer.seek_to_end(tp)
                else:  # (an older entry read anyway is dropped by its own expiry)
                    consumer.seek(tp, at.offset)
            ends = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for messages in batches.values():
                    for message in messages:
                        if (revocation := decode(message.value)) is not None:
                            self.denylist.add(revocation.token_id, revocation.until)
                if not self.caught_up.is_set() and await _reached(consumer, ends):
                    self.caught_up.set()
                    log.info("token revocations read", in_force=len(self.denylist))
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


def main() -> None:
    """``python -m agency_common.token_revocations``: create the revocation topic (deployment job; the
    services also create it at start where their Kafka user may)."""
    settings = ServiceSettings()
    asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, [TOPIC], partitions=1, timeout_seconds=120,
                              settings=settings))
    print(f"{TOPIC} ready on {settings.kafka_bootstrap_servers}")


if __name__ == "__main__":
    main()
