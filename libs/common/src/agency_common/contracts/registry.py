"""Which event types may travel on which topic, and decoding raw bytes into typed envelopes."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import ValidationError

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


def decode(topic: str, raw: bytes) -> Envelope[Any]:
    """Parse and validate an envelope and its payload; ContractError on anything malformed."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"message is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ContractError("message is not an event envelope (no 'type')")
    cls = payload_type(topic, data["type"])
    try:
        return Envelope[cls].model_validate(data)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise ContractError(f"invalid {data['type']}: {exc.errors(include_url=False)}") from None
