"""Decoding a consumed record once (issue 17): the ``event_type`` header picks the payload class, a
missing or lying header falls back to reading the type from the body, and a type only counted is
decoded without validating its payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from agency_common.contracts import ContractError, decode, make_envelope, topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.intake import (
    PoliciesCreated,
    PolicyCreated,
    PolicySessionCreated,
    PolicySnapshot,
)
from agency_common.contracts.registry import counted_envelope


def _raw() -> bytes:
    return make_envelope(PolicyCreated(policy=PolicySnapshot(
        policy_id="p-1", version=1, carrier="Acme", policy_number="A-1", client_name="Jo",
        estimated_premium=Decimal("10.10"), updated_at=datetime(2026, 1, 1, tzinfo=UTC))),
        producer="intake", actor="clerk", correlation_id="c-1").to_bytes()


@pytest.mark.parametrize("header", ["intake.policy.created", None, "intake.policy.updated", "no.such.type"])
def test_the_header_picks_the_payload_class_and_a_missing_or_lying_one_falls_back(header: str | None) -> None:
    env = decode(topics.INTAKE_POLICIES, _raw(), header)
    assert isinstance(env.payload, PolicyCreated)
    assert env.payload.policy.estimated_premium == Decimal("10.10")


def test_a_lying_header_keeps_the_contract_error_clear() -> None:
    body = json.loads(_raw())
    body["payload"]["policy"].pop("policy_id")
    with pytest.raises(ContractError, match="invalid intake.policy.created"):
        decode(topics.INTAKE_POLICIES, json.dumps(body).encode(), "intake.policy.updated")
    with pytest.raises(ContractError, match="not JSON"):
        decode(topics.INTAKE_POLICIES, b"nope", "intake.policy.created")


def test_a_counted_type_is_decoded_without_validating_its_payload() -> None:
    counted = counted_envelope(PolicyCreated)
    body = json.loads(_raw())
    body["payload"] = {"policy": {"policy_id": 12}}  # would not validate as PolicyCreated
    env = decode(topics.INTAKE_POLICIES, json.dumps(body).encode(), "intake.policy.created", counted)
    assert env.type == "intake.policy.created" and env.actor == "clerk"
    assert type(env.payload).topic == topics.INTAKE_POLICIES and env.payload.entity_count() == 1
    # the envelope itself is still validated
    body.pop("actor")
    with pytest.raises(ContractError, match="invalid intake.policy.created"):
        decode(topics.INTAKE_POLICIES, json.dumps(body).encode(), "intake.policy.created", counted)


def test_a_type_counting_entities_from_its_payload_cannot_be_counted_unvalidated() -> None:
    assert PoliciesCreated.entity_count is not EventPayload.entity_count
    with pytest.raises(TypeError):
        counted_envelope(PoliciesCreated)
    assert counted_envelope(PolicySessionCreated) is counted_envelope(PolicySessionCreated)
