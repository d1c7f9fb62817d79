"""Identifiers as DOMAIN-FACTS §1.1 has them: an NPN is a string of 1-10 digits (leading zeros
kept, never a number), an agency may carry a placeholder NPN, a CoCode is 5 digits with its
leading zeros (or an NAIC alien number), never padded or guessed."""

from __future__ import annotations

import pytest
from appointments.domain import rows
from appointments.transactions.schemas import BulkRequest
from pydantic import ValidationError

from tests.appointments.conftest import csv_bytes

ACCEPTED = rows.AcceptedValues(agency_npns=frozenset({"8800001", "PENDING"}), loa_categories=("Life & Health",),
                               states=("CA", "TX"), cocodes=("06054", "60054"))


def test_npn_and_cocode_keep_their_leading_zeros() -> None:
    r = BulkRequest(npn="0012345", states=["ca"], loa_category="Life & Health", cocodes=["06054", " 06054 "])
    assert (r.npn, r.states, r.cocodes) == ("0012345", ["CA"], ["06054"])
    assert BulkRequest(npn="1", states=["TX"], loa_category="L", cocodes=["AA-1120337"]).cocodes == ["AA-1120337"]
    for bad in ("6054", "600541", "60O54", "AA-112"):
        with pytest.raises(ValidationError, match="is not a CoCode"):
            BulkRequest(npn="1", states=["TX"], loa_category="L", cocodes=[bad])
    for bad_npn in ("", "12345678901", "12-34", "1e5"):
        with pytest.raises(ValidationError):
            BulkRequest(npn=bad_npn, states=["TX"], loa_category="L", cocodes=["60054"])


def test_files_keep_identifiers_as_text() -> None:
    parsed = rows.check_bulk_appoint(csv_bytes("NPN,States,LOA Category,CoCodes", "0000123,CA,Life & Health,06054",
                                               "123,CA,Life & Health,6054"))
    assert parsed.rows[0].valid and parsed.rows[0].data["npn"] == "0000123"
    assert parsed.rows[0].data["cocodes"] == ["06054"]
    assert parsed.rows[1].errors == [f"CoCodes: '6054' is not a CoCode ({rows.COCODE_RULE})"]
    onboarding = rows.check_onboarding(csv_bytes(
        "Agency NPN,First Name,Last Name,Agent NPN", "PENDING,Ana,Diaz,0004567", "pending,Bo,Li,0004568",
        "8800001,Cy,Ng,4567"), ACCEPTED)
    first, second, third = onboarding.rows
    assert first.valid and first.data["npn"] == "0004567" and first.data["agency_npn"] == "PENDING"
    assert second.errors == ["Agency NPN 'pending' must be 1 to 10 digits (or the agency's placeholder)"]
    assert third.valid and third.data["npn"] == "4567"  # another producer than 0004567
