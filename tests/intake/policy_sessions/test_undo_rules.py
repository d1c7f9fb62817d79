"""The undo rules (issue 15): the window, and why a session's policy cannot be voided (the first
reason a person would check)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intake.policy_sessions.domain.undo import PolicyFacts, blocking_reason, undo_window_refusal

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def facts(**changes) -> PolicyFacts:
    base = {"status": "active", "version": 1, "created_at": T0, "updated_at": T0, "postings": False,
            "other_lines": False, "sales_record": False}
    return PolicyFacts(**(base | changes))


def test_the_window_is_inclusive_of_its_last_moment() -> None:
    assert undo_window_refusal(T0, T0 + timedelta(hours=24), 24) is None
    refusal = undo_window_refusal(T0, T0 + timedelta(hours=24, seconds=1), 24)
    assert refusal == "this session was created more than 24 hours ago: its policies can no longer be voided by an undo"


def test_an_untouched_policy_may_be_voided() -> None:
    assert blocking_reason(facts(), statement_published=False) is None


def test_each_touch_is_named() -> None:
    assert blocking_reason(facts(version=2), statement_published=False) == "it was edited after it was created"
    assert blocking_reason(facts(updated_at=T0 + timedelta(seconds=1)),
                           statement_published=False) == "it was edited after it was created"
    assert blocking_reason(facts(postings=True), statement_published=False) == "an invoice was posted to it"
    assert blocking_reason(facts(other_lines=True), statement_published=False) == (
        "a line of another statement (or another line) is matched to it")
    assert blocking_reason(facts(sales_record=True), statement_published=False) == (
        "its client has a sales record made since")
    assert blocking_reason(facts(), statement_published=True) == "the session's statement was published to invoicing"


def test_already_voided_comes_first_and_a_posting_before_its_version() -> None:
    assert blocking_reason(facts(status="voided", version=2), statement_published=True) == "already voided"
    assert blocking_reason(facts(postings=True, version=3), statement_published=False) == "an invoice was posted to it"
