"""A producer's edit checked (pure): each field's rule in words, what changed, what an onboarding row says."""

from __future__ import annotations

import pytest
from appointments.domain.producers import changes, check_edit, from_onboarding_row, outcome

AGENCIES = frozenset({"8800001", "8800002"})

BAD = [
    ({"first_name": "  "}, "first_name", "First name is required"),
    ({"email": "ana@"}, "email", "Email 'ana@' is not an email address"),
    ({"phone": "call me"}, "phone", "Phone 'call me' is not a phone number (digits, spaces, + ( ) - .)"),
    ({"phone": "12-34"}, "phone", "Phone '12-34' is not a phone number (digits, spaces, + ( ) - .)"),
    ({"agency_npn": "9999999"}, "agency_npn", "Agency NPN 9999999 is not a known agency"),
    ({"agent_type": "Wizard"}, "agent_type",
     "Agent type 'Wizard' is not one of: Producer, Captive Agent, Independent Agent, Employee"),
    ({"business_address": "x" * 301}, "business_address", "Business address is longer than 300 characters"),
    ({"ssn": "123-45-6789"}, "ssn", "'ssn' is not a field of a producer that can be edited"),
]


@pytest.mark.parametrize(("given", "name", "words"), BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_a_bad_field_is_refused_in_words(given, name, words) -> None:
    edit = check_edit(given, AGENCIES)
    assert not edit.ok and edit.errors == {name: words}


def test_good_fields_are_kept_tidy_blank_optional_ones_cleared_and_every_error_found_at_once() -> None:
    edit = check_edit({"email": " ana@example.com ", "phone": "+1 (512) 555-0100", "mailing_address": "",
                       "business_address": "1 Main St\n Austin  TX", "agency_npn": "8800002",
                       "agent_type": "Employee"}, AGENCIES)
    assert edit.ok and edit.values == {"email": "ana@example.com", "phone": "+1 (512) 555-0100",
                                       "mailing_address": None, "business_address": "1 Main St Austin TX",
                                       "agency_npn": "8800002", "agent_type": "Employee"}
    assert set(check_edit({"email": "x", "phone": "y", "last_name": ""}, AGENCIES).errors) == {
        "email", "phone", "last_name"}


def test_changes_name_only_what_differs_and_the_onboarding_row_never_clears() -> None:
    before = {"first_name": "Ana", "email": None, "agency_npn": "8800001", "phone": "512 555 0100"}
    assert changes(before, {"first_name": "Ana", "email": "", "agency_npn": "8800002", "phone": None}) == {
        "agency_npn": ("8800001", "8800002"), "phone": ("512 555 0100", None)}
    row = {"first_name": "Ana", "last_name": "Reyes", "email": None, "agency_npn": "8800001", "npn": "7000001",
           "assignment": {"agent_type": "Producer"}}
    assert from_onboarding_row(row) == {"first_name": "Ana", "last_name": "Reyes", "agency_npn": "8800001",
                                        "agent_type": "Producer"}
    assert [outcome(None), outcome([]), outcome(["email", "agency_npn"])] == [
        "created", "unchanged", "updated: Email, Agency"]
