"""Pure rules of the individual screens: custom values as a person reads and types them, typed text
refused for control characters, which fields a form changed, a line's status in words."""

from __future__ import annotations

from intake.individuals.domain.fields import (
    changed_fields,
    custom_display,
    custom_input,
    custom_value,
    name_problem,
    text_problem,
)
from intake.policies.domain.lines import line_status


def test_custom_values_read_as_a_person_reads_them() -> None:
    assert custom_display("percent", "0.15") == "15 %" and custom_display("percent", "0.125") == "12.5 %"
    assert custom_display("checkbox", True) == "Yes" and custom_display("checkbox", False) == "No"
    assert custom_display("checkbox_list", ["golf", "fishing"]) == "golf, fishing"
    assert custom_display("currency", "1234.5") == "$1,234.50" and custom_display("date", "2026-01-02") == "2026-01-02"
    assert custom_display("text", None) == "" and custom_display("checkbox_list", []) == ""


def test_what_a_form_shows_reads_back_to_the_same_value() -> None:
    for ctype, stored in (("percent", "0.15"), ("checkbox", True), ("checkbox", False),
                          ("checkbox_list", ["golf", "fishing"]), ("currency", "1234.50"), ("number", "7")):
        assert custom_value(ctype, custom_input(ctype, stored)) == stored, ctype


def test_typed_text_and_names() -> None:
    assert text_problem("Ann O'Neil, Jr.") is None and text_problem("Zoë") is None
    for bad in ("a\tb", "a\nb", "a\x1b[31m", "a\x7f", "a\x85"):
        assert text_problem(bad), repr(bad)
    assert name_problem("  ", None) and name_problem("Ann", "") is None and name_problem(None, "Lee") is None


def test_changed_fields_ignore_blank_against_nothing() -> None:
    before = {"city": "Austin", "title": None, "state": "TX"}
    assert changed_fields(before, {"city": "Austin", "title": "", "state": "TX"}) == []
    assert changed_fields(before, {"city": "Dallas", "title": "Dr", "state": None}) == ["city", "title", "state"]


def test_a_lines_status_in_words() -> None:
    assert line_status(valid=False, match_status=None, excluded=False, statement_status="imported") == "invalid"
    assert line_status(valid=True, match_status="matched", excluded=True, statement_status="published") == (
        "excluded from invoicing")
    assert line_status(valid=True, match_status="matched", excluded=False, statement_status="published") == (
        "matched, sent to invoicing")
    assert line_status(valid=True, match_status="matched", excluded=False, statement_status="receiving") == "matched"
