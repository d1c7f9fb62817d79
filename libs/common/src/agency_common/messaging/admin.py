"""Topic administration: create the platform's topics and their dead-letter topics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from agency_common.contracts.topics import DLT_SUFFIX, all_topics_with_dlt
from agency_common.messaging.connection import client_options
from agency_common.settings import ServiceSettings


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str] | None = None,
    partitions: int = 4,
    dlt_partitions: int = 1,
    timeout_seconds: float = 30.0,
    settings: ServiceSettings | None = None,
) -> list[str]:
    """Create the missing topics; returns the ones created. Waits for the broker to answer.
    ``settings`` give the replication factor, ``min.insync.replicas`` and how to connect (TLS, SASL);
    without them: one replica, plaintext (the embedded broker)."""
    wanted = list(topics) if topics is not None else all_topics_with_dlt()
    replicas = settings.kafka_replication_factor if settings else 1
    configs = {"min.insync.replicas": str(settings.kafka_min_insync_replicas)} if settings and replicas > 1 else {}
    connect = client_options(settings) if settings else {}
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000, **connect)
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            await admin.close()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.3)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            new = [
                NewTopic(t, num_partitions=dlt_partitions if t.endswith(DLT_SUFFIX) else partitions,
                         replication_factor=replicas, topic_configs=configs)
                for t in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        await admin.close()


def main() -> None:
    """``python -m agency_common.messaging.admin``: create every topic and its DLT (deployment job), with
    the partitions, replication factor, ``min.insync.replicas`` and connection of the AGENCY_KAFKA_*
    settings."""
    settings = ServiceSettings()
    bootstrap = settings.kafka_bootstrap_servers
    created = asyncio.run(ensure_topics(bootstrap, partitions=settings.kafka_topic_partitions, timeout_seconds=120,
                                        settings=settings))
    print(f"topics ready on {bootstrap} (replication factor {settings.kafka_replication_factor}); "
          f"created: {', '.join(created) or 'none'}")


if __name__ == "__main__":
    main()
