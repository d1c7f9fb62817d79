"""reporting's subscriptions: the upstream jobs and activities, every other service's events, and
every dead-letter topic.

The consumer applies a batch of up to 500 records in one transaction. Every event type is
registered with ``on_batch``: a handler gets each run of consecutive events of its type at once and
writes them with one ``executemany`` upsert (newest version per id first picked in memory), plus one
upsert of the per-(topic, type, day) event counts. The upstream jobs and activities use
``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE excluded.version > version``: an older version
never overwrites a newer one, whatever the order of arrival. If a batch fails, the consumer applies
it again with each run in a savepoint, bisecting the failing run (through the same handlers), so one
bad event is retried and dead-lettered alone while the rest is committed. A redelivered event never
reaches a handler (the inbox), so nothing is counted twice; a dead-letter copy is keyed by the
refusal (consumer and original offset), so two services refusing one event count twice. Types that
are only counted (no specific handler, one entity an event) are decoded without validating their
payload, which is most of the decoding's cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import registry
from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted
from agency_common.messaging.consumer import EventConsumer

from reporting.ingestion.usecases import (
    BatchHandler,
    activity_row,
    batch_upsert,
    count_dead_letter,
    count_events,
    job_row,
    operations_handlers,
)
from reporting.models import Activity, PolicyJob
from reporting.settings import ReportingSettings

OWN_TOPICS = {topics.REPORTING_TEAM_SCREENS}

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime


def subscribe(consumer: EventConsumer, runtime: ServiceRuntime) -> None:
    settings: ReportingSettings = runtime.settings  # type: ignore[assignment]
    specific: dict[type, BatchHandler] = {
        PolicyJobUpserted: batch_upsert(PolicyJob.__table__, lambda e: job_row(e.payload, e.occurred_at),
                                        key="job_id", newer="version"),
        ActivityUpserted: batch_upsert(Activity.__table__, lambda e: activity_row(e.payload, e.occurred_at),
                                       key="activity_id", newer="version"),
        **operations_handlers(settings),
    }
    for topic, types in registry().items():
        if topic in OWN_TOPICS:
            continue
        for payload_type in types.values():
            handler = specific.get(payload_type, count_events)
            # a type only counted, one entity an event, needs no payload validation (issue 17)
            counted = handler is count_events and payload_type.entity_count is EventPayload.entity_count
            consumer.on_batch(payload_type, handler, validate_payload=not counted)
    for topic in topics.ALL_TOPICS:
        consumer.on_raw(topics.dlt(topic), count_dead_letter)
