"""Pure rules of seed 001: the carry-over list (each field, each custom-field type), the merge of
Convert to Individual (names of policy clients: test_insured_rules.py)."""

from __future__ import annotations

import pytest
from intake.individuals.domain.fields import (
    CARRIED_FIELDS,
    CUSTOM_FIELD_TYPES,
    PII_FIELDS,
    STANDARD_FIELDS,
    carry_over,
    custom_type,
    custom_value,
    merge_back,
    storage_key,
)

SEED_CARRY_OVER = {
    "first_name", "middle_name", "last_name", "nickname", "title", "servicing_agent", "record_status",
    "secondary_email", "cell_phone", "home_phone", "address_type", "address_line1", "city", "county", "zip_code",
    "state", "gender", "dob", "lead_source", "medicare_id", "medicare_part_a", "medicare_part_b", "ssn",
    "drivers_license", "smoker_status",
}


def _individual() -> dict:
    return {storage_key(f): f"v-{f}" for f in STANDARD_FIELDS}


@pytest.mark.parametrize("field", sorted(SEED_CARRY_OVER))
def test_each_seed_field_is_carried(field: str) -> None:
    fields, _, _ = carry_over(_individual(), [])
    assert fields[storage_key(field)] == f"v-{field}"


def test_exactly_the_seed_fields_are_carried() -> None:
    assert set(CARRIED_FIELDS) == SEED_CARRY_OVER
    fields, _, _ = carry_over(_individual(), [])
    assert "primary_email" not in fields and "servicing_agent_user" not in fields
    assert all(storage_key(f) in fields for f in PII_FIELDS)  # copied still encrypted


@pytest.mark.parametrize(("ctype", "carried"), [
    ("text", True), ("date", True), ("dropdown", True), ("number", False), ("currency", False),
    ("percent", False), ("checkbox", False), ("checkbox_list", False),
])
def test_custom_field_types(ctype: str, carried: bool) -> None:
    assert ctype in CUSTOM_FIELD_TYPES
    _, custom, _ = carry_over(_individual(), [{"name": "x", "type": ctype, "value": 1}])
    assert bool(custom) is carried


def test_assigned_user_is_the_servicing_agents_linked_user() -> None:
    ind = _individual() | {"servicing_agent": "Agent A", "servicing_agent_user": "jdoe"}
    assert carry_over(ind, [])[2] == "jdoe"
    assert carry_over(ind | {"servicing_agent_user": None}, [])[2] is None
    assert carry_over(ind | {"servicing_agent": None}, [])[2] is None


def test_merge_back_fills_empty_fields_and_keeps_the_individuals_values() -> None:
    mine = {"first_name": "Ann", "cell_phone": None, "city": "Austin", "ssn": ""}
    theirs = {"first_name": "Anne", "cell_phone": "555-0100", "city": "Austin", "ssn": "123-45-6789", "state": ""}
    changes, custom, conflicts = merge_back(mine, [{"name": "a", "type": "text", "value": 1}], theirs,
                                            [{"name": "a", "type": "text", "value": 2}, {"name": "b", "type": "date", "value": "2026-01-01"}])
    assert changes == {"cell_phone": "555-0100", "ssn": "123-45-6789"}
    assert conflicts == ["first_name"]
    assert custom == [{"name": "a", "type": "text", "value": 1}, {"name": "b", "type": "date", "value": "2026-01-01"}]


async def test_a_bad_crm_individual_is_dead_lettered_without_its_pii() -> None:
    from types import SimpleNamespace

    from agency_common.contracts.upstream import IndividualUpserted
    from agency_common.messaging.consumer import PermanentError
    from agency_common.pii import PiiCipher
    from intake.consumers import on_individual

    handler = on_individual(SimpleNamespace(pii=PiiCipher(PiiCipher.generate_key())))
    env = SimpleNamespace(payload=IndividualUpserted(external_id="e1", version=1,
                                                     fields={"ssn": "123-45-6789" * 5, "dob": "not-a-date-123-45-6789"}))
    with pytest.raises(PermanentError) as info:
        await handler(SimpleNamespace(session=None), env)  # type: ignore[arg-type]
    assert "6789" not in str(info.value) and "ssn" in str(info.value)


@pytest.mark.parametrize(("spelled", "ours"), [
    ("Text", "text"), ("Date", "date"), ("Dropdown", "dropdown"), ("Drop-down", "dropdown"), ("Number", "number"),
    ("Currency", "currency"), ("Percent", "percent"), ("Checkbox", "checkbox"), ("Checkbox list", "checkbox_list"),
    ("checkbox_list", "checkbox_list"),
])
def test_custom_field_types_as_the_seed_spells_them(spelled: str, ours: str) -> None:
    assert custom_type(spelled) == ours


@pytest.mark.parametrize(("ctype", "given", "stored"), [
    ("text", " a note ", "a note"), ("dropdown", "Gold", "Gold"), ("date", "05/06/2026", "2026-05-06"),
    ("date", "2026-05-06", "2026-05-06"), ("number", "1,234.5", "1234.5"), ("currency", "$1,000.10", "1000.10"),
    ("currency", "(5.00)", "-5.00"), ("percent", "15%", "0.15"), ("percent", "0.15", "0.15"),
    ("checkbox", "Yes", True), ("checkbox", "no", False), ("checkbox", True, True),
    ("checkbox_list", "golf; tennis", ["golf", "tennis"]), ("checkbox_list", ["a", " b "], ["a", "b"]),
    ("number", "", None),
])
def test_custom_field_values_are_checked_by_type(ctype: str, given: object, stored: object) -> None:
    assert custom_value(ctype, given) == stored


@pytest.mark.parametrize(("ctype", "given"), [
    ("date", "31/31/2026"), ("number", "many"), ("currency", "1.234"), ("percent", "lots"), ("checkbox", "maybe"),
])
def test_a_bad_custom_value_is_refused_without_repeating_it(ctype: str, given: str) -> None:
    with pytest.raises(ValueError, match=f"not a valid {ctype}") as info:
        custom_value(ctype, given)
    assert given not in str(info.value)


def test_an_unknown_custom_type_is_refused() -> None:
    with pytest.raises(ValueError, match="custom field type must be one of"):
        custom_type("signature")
