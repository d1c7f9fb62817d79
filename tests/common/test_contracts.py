"""The envelope and the registry of event types per topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from agency_common.contracts import ContractError, decode, make_envelope, topics
from agency_common.contracts.intake import PolicyCreated, PolicySnapshot
from agency_common.contracts.registry import registry
from pydantic import ValidationError


def _policy_event() -> PolicyCreated:
    return PolicyCreated(policy=PolicySnapshot(
        policy_id="p-1", version=1, carrier="Acme", policy_number="A-1", client_name="Jo",
        estimated_premium=Decimal("10.10"), updated_at=datetime(2026, 1, 1, tzinfo=UTC)))


def test_envelope_round_trip_keeps_every_field_and_decimals() -> None:
    env = make_envelope(_policy_event(), producer="intake", actor="clerk", correlation_id="c-1", causation_id="e-0")
    back = decode(topics.INTAKE_POLICIES, env.to_bytes())
    assert back.event_id == env.event_id and back.type == "intake.policy.created"
    assert back.producer == "intake" and back.actor == "clerk"
    assert back.correlation_id == "c-1" and back.causation_id == "e-0"
    assert back.occurred_at.tzinfo is not None
    assert back.payload.policy.estimated_premium == Decimal("10.10")
    assert env.headers()["event_type"] == "intake.policy.created"
    assert env.payload.key() == "p-1"


def test_occurred_at_is_utc() -> None:
    env = make_envelope(_policy_event(), producer="intake", actor="a", correlation_id="c",
                        occurred_at=datetime(2026, 7, 11, 6, 54, tzinfo=timezone(timedelta(hours=-4))))
    assert env.occurred_at == datetime(2026, 7, 11, 10, 54, tzinfo=UTC)
    with pytest.raises(ValidationError):
        make_envelope(_policy_event(), producer="intake", actor="a", correlation_id="c",
                      occurred_at=datetime(2026, 7, 11, 10, 54))


@pytest.mark.parametrize("raw, reason", [
    (b"not json at all", "not JSON"),
    (b"[1, 2]", "not an event envelope"),
    (json.dumps({"type": "intake.policy.deleted", "payload": {}}).encode(), "not part of topic"),
    (json.dumps({"type": "intake.policy.created", "event_id": str(uuid.uuid4()), "producer": "x",
                 "correlation_id": "c", "actor": "a", "payload": {"policy": {"policy_id": "p"}}}).encode(), "invalid"),
    (b"\xff\xfe\x00", "not JSON"),
])
def test_malformed_messages_are_contract_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        decode(topics.INTAKE_POLICIES, raw)


def test_every_topic_name_follows_the_convention_and_types_are_registered() -> None:
    for topic in topics.ALL_TOPICS:
        owner, entity, version = topic.split(".")
        assert owner in {"upstream", "intake", "invoicing", "appointments", "nipr", "reporting"}
        assert version.startswith("v") and entity
    for topic, types in registry().items():
        assert topic in topics.ALL_TOPICS
        for event_type, cls in types.items():
            assert cls.topic == topic and event_type.count(".") == 2
    assert topics.dlt(topics.INTAKE_POLICIES) == "intake.policies.v1.dlt"
    assert len(topics.all_topics_with_dlt()) == 2 * len(topics.ALL_TOPICS)
