"""Which event types may travel on which topic, and decoding raw bytes into typed envelopes."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agency_common.contracts.envelope import Envelope, EventPayload

_REGISTRY: dict[str, dict[str, type[EventPayload]]] = {}

E = TypeVar("E", bound=type[EventPayload])


class ContractError(ValueError):
    """A message that breaks the contract: it can never succeed, so it goes straight to the DLT."""


def event(cls: E) -> E:
    """Class decorator: register a payload type under its topic and type name."""
    types = _REGISTRY.setdefault(cls.topic, {})
    if cls.event_type in types and types[cls.event_type] is not cls:
        raise RuntimeError(f"event type {cls.event_type} registered twice on {cls.topic}")
    types[cls.event_type] = cls
    return cls


def payload_type(topic: str, event_type: str) -> type[EventPayload]:
    try:
        return _REGISTRY[topic][event_type]
    except KeyError:
        raise ContractError(f"event type {event_type!r} is not part of topic {topic!r}") from None


def event_types(topic: str) -> dict[str, type[EventPayload]]:
    return dict(_REGISTRY.get(topic, {}))


def registry() -> dict[str, dict[str, type[EventPayload]]]:
    return {topic: dict(types) for topic, types in _REGISTRY.items()}


class _EnvelopeHead(BaseModel):
    """Just the envelope's type: read first to pick the payload class, the rest is ignored."""

    type: str


@cache
def _envelope_of(cls: type[EventPayload]) -> type[Envelope[Any]]:
    return Envelope[cls]  # type: ignore[valid-type]


def decode(topic: str, raw: bytes) -> Envelope[Any]:
    """Parse and validate an envelope and its payload; ContractError on anything malformed.

    Validated from the raw JSON by pydantic (no intermediate dicts): the type first, then the
    envelope of that type's payload class."""
    try:
        head = _EnvelopeHead.model_validate_json(raw)
    except ValidationError as exc:
        kind = exc.errors(include_url=False)[0]["type"]
        if kind in ("json_invalid", "json_type"):
            raise ContractError(f"message is not JSON: {exc.errors(include_url=False)[0]['msg']}") from None
        raise ContractError("message is not an event envelope (no 'type')") from None
    cls = payload_type(topic, head.type)
    try:
        return _envelope_of(cls).model_validate_json(raw)
    except ValidationError as exc:
        raise ContractError(f"invalid {head.type}: {exc.errors(include_url=False)}") from None
