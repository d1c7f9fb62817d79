"""The one envelope every event travels in (DESIGN.md, messaging contract)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from agency_common.timeutil import ensure_utc, utcnow


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses name their topic and type (past tense)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: ClassVar[str]
    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1

    def key(self) -> str:
        """The aggregate id that orders this event on its topic."""
        raise NotImplementedError

    def entity_count(self) -> int:
        """How many entities the event is about: 1, or the size of a bulk event's chunk (issue 17).
        Reporting's operations views count entities, not messages."""
        return 1


P = TypeVar("P", bound=BaseModel)

BULK_CHUNK = 500  # entities per bulk event at most (issue 17: one event per chunk of a bulk action)


class Envelope(BaseModel, Generic[P]):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str
    causation_id: str | None = None
    actor: str
    payload: P

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return ensure_utc(value)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def headers(self) -> dict[str, str]:
        return envelope_headers(str(self.event_id), self.type, self.correlation_id, self.producer)


def envelope_headers(event_id: str, event_type: str, correlation_id: str, producer: str) -> dict[str, str]:
    """Kafka headers every event carries (consumers read the type and correlation id from them)."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "correlation_id": correlation_id,
        "producer": producer,
        "content-type": "application/json",
    }


def make_envelope(
    payload: EventPayload,
    *,
    producer: str,
    actor: str,
    correlation_id: str,
    causation_id: str | None = None,
    **extra: Any,
) -> Envelope[EventPayload]:
    return Envelope[type(payload)](  # type: ignore[misc]
        type=payload.event_type,
        version=payload.event_version,
        producer=producer,
        actor=actor,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=payload,
        **extra,
    )
