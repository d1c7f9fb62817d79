"""What a consumer's handlers get: a consumed record (``Incoming``), and the error a handler raises
when retrying cannot help (``PermanentError``)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.topics import DLT_SUFFIX
from agency_common.outbox.unit_of_work import Transaction

Handler = Callable[[Transaction, Envelope[Any]], Awaitable[None]]
RawHandler = Callable[[Transaction, "Incoming"], Awaitable[None]]
BatchHandler = Callable[[Transaction, list[Envelope[Any]]], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (e.g. a rule the event breaks)."""


class EventsRefused(Exception):
    """Raised by a batch handler that found events of its run it cannot apply, each with its reason
    (a ``PermanentError`` to dead-letter it at once, any other error to retry it): the consumer
    applies the rest of the batch at once and parks only these, with no probing for the bad ones.
    What the handler wrote before raising is rolled back, so it may find them at any point."""

    def __init__(self, refusals: Mapping[Any, Exception]) -> None:
        self.refusals = {str(event_id): error for event_id, error in refusals.items()}
        first = next(iter(self.refusals.values()), None)
        super().__init__(f"{len(self.refusals)} event(s) refused: {first}")

    def reason(self, event_id: Any) -> Exception | None:
        return self.refusals.get(str(event_id))


@dataclass
class Incoming:
    """One consumed record, decoded where its topic carries envelopes."""

    record: ConsumerRecord[Any, Any]
    envelope: Envelope[Any] | None = None

    @property
    def topic(self) -> str:
        return self.record.topic

    @property
    def headers(self) -> dict[str, str]:
        return {k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in self.record.headers or ()}

    @property
    def inbox_id(self) -> str:
        if self.envelope is not None:
            return str(self.envelope.event_id)
        hdr = self.headers
        if self.topic.endswith(DLT_SUFFIX) and "x-consumer" in hdr:
            return dead_letter_id(hdr)
        if "event_id" in hdr:
            return f"{hdr['event_id']}@{self.topic}"
        return f"{self.topic}:{self.record.partition}:{self.record.offset}"


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None


def dead_letter_id(headers: dict[str, str]) -> str:
    """The identity of a dead-letter copy: one refusal of one message by one consumer, the key of the
    refusing service's ``dead_letters`` row. Two services refusing the same event make two copies with
    the same ``event_id`` (both counted); a copy published again after a crash is the same refusal
    (counted once). Hashed to fit the inbox's key column."""
    parts = [headers.get(name, "") for name in
             ("x-consumer", "x-original-topic", "x-original-partition", "x-original-offset", "event_id")]
    return "dlt:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
