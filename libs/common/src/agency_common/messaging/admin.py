"""Topic administration: create the platform's topics and their dead-letter topics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from agency_common.contracts.topics import DLT_SUFFIX, all_topics_with_dlt


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str] | None = None,
    partitions: int = 4,
    dlt_partitions: int = 1,
    timeout_seconds: float = 30.0,
) -> list[str]:
    """Create the missing topics; returns the ones created. Waits for the broker to answer."""
    wanted = list(topics) if topics is not None else all_topics_with_dlt()
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000)
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
                         replication_factor=1)
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
    """``python -m agency_common.messaging.admin``: create every topic and its DLT (deployment job)."""
    import os

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    partitions = int(os.environ.get("AGENCY_KAFKA_TOPIC_PARTITIONS", "4"))
    created = asyncio.run(ensure_topics(bootstrap, partitions=partitions, timeout_seconds=120))
    print(f"topics ready on {bootstrap}; created: {', '.join(created) or 'none'}")


if __name__ == "__main__":
    main()
