"""What the operations views and the team-screen items show on screen (the CSV keeps the stored form)."""

from __future__ import annotations

from decimal import Decimal

from reporting.operations.dashboard import _words
from reporting.team_screens.dashboard import _item_cell


def test_stored_codes_read_as_words_and_other_values_stay() -> None:
    assert _words("term_policy") == "term policy"
    assert _words("non_renewed") == "non renewed"
    assert _words("upstream.policy-jobs.v1") == "upstream.policy-jobs.v1"  # a topic is not a code
    assert _words("In Good Standing") == "In Good Standing"
    assert _words(Decimal("1.50")) == Decimal("1.50")


def test_item_cells_show_local_times_yes_no_and_policy_periods() -> None:
    assert _item_cell("2025-07-09T15:00:00+00:00", "America/Chicago") == "Jul 09, 2025 10:00 AM"
    assert _item_cell(True, "UTC") == "yes" and _item_cell(None, "UTC") == ""
    assert _item_cell([{"model_number": 3, "locked": True, "status": "not_taken"}, {"locked": False}], "UTC") \
        == "model 3, locked, not taken; no model, unlocked"
    assert _item_cell("J-1", "UTC") == "J-1"
