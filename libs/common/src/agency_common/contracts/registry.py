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


@cache
def counted_envelope(cls: type[EventPayload]) -> type[Envelope[Any]]:
    """An envelope of ``cls`` whose payload is not validated (its fields are skipped): for a consumer
    that only counts the events of a type. The payload is an empty instance of a class with ``cls``'s
    topic and type, and it counts as one entity, so ``cls`` must not override ``entity_count``."""
    if cls.entity_count is not EventPayload.entity_count:
        raise TypeError(f"{cls.__name__} counts its entities from its payload: it must be validated")
    counted = type(f"{cls.__name__}Counted", (EventPayload,), {
        "__module__": __name__, "topic": cls.topic, "event_type": cls.event_type,
        "event_version": cls.event_version, "__annotations__": {}})
    return Envelope[counted]  # type: ignore[valid-type]


def decode(topic: str, raw: bytes, event_type: str | None = None,
           envelope: type[Envelope[Any]] | None = None) -> Envelope[Any]:
    """Parse and validate an envelope and its payload; ContractError on anything malformed.

    Validated from the raw JSON by pydantic (no intermediate dicts). ``event_type`` (the
    ``event_type`` header) picks the payload class, so the bytes are validated once, with
    ``envelope`` if given (e.g. ``counted_envelope``); if the header is missing or lies, the type is
    read from the body first and the envelope of that type's payload class validated."""
    if event_type is not None:
        if envelope is None and (cls := _REGISTRY.get(topic, {}).get(event_type)) is not None:
            envelope = _envelope_of(cls)
        if envelope is not None:
            try:
                env = envelope.model_validate_json(raw)
            except ValidationError:
                pass  # the slow path below says what is wrong, whatever the header claimed
            else:
                if env.type == event_type:
                    return env
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
