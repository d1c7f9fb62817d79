"""A policy's terms and the premium and commission rule of seed 003 by bill type (pure rules): each
posting changes the term its date falls in, a posting dated past the last term starts a renewal
with its own dates, and the policy shows its current term."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from intake.policies.domain.premium import Term, apply_posting, current_term, estimated_commission

T0, T1, T2 = date(2026, 1, 1), date(2027, 1, 1), date(2028, 1, 1)
TERM = Term(T0, T1, D("1000.00"), D("600.00"), D("150.00"), D("90.00"), id=7)
RATE = D("0.15")


def totals(t: Term) -> tuple:
    return t.annualized, t.billed, t.estimated_commission, t.billed_commission


def test_audit_endorsement_and_installment_add_to_annualized_billed_and_billed_commission() -> None:
    for bill_type in ("audit", "endorsement", "installment"):
        (term,) = apply_posting((TERM,), bill_type, D("100.00"), D("15.00"), effective_date=date(2026, 6, 1), rate=RATE)
        assert totals(term) == (D("1100.00"), D("700.00"), D("165.00"), D("105.00"))
        assert term.id == 7 and (term.start, term.end) == (T0, T1)  # the same stored term


def test_cancellation_adds_to_billed_and_billed_commission_only() -> None:
    (term,) = apply_posting((TERM,), "cancellation", D("-250.00"), D("-37.50"), effective_date=date(2026, 6, 1),
                            rate=RATE)
    assert totals(term) == (D("1000.00"), D("350.00"), D("150.00"), D("52.50"))


def test_term_policy_replaces_its_terms_totals() -> None:
    (term,) = apply_posting((TERM,), "term_policy", D("1500.00"), D("225.00"), effective_date=T0,
                            expiration_date=T1, rate=RATE)
    assert totals(term) == (D("1500.00"), D("1500.00"), D("225.00"), D("225.00"))


def test_an_installment_dated_in_the_next_term_starts_a_renewal_with_its_own_dates() -> None:
    """Issue 6: the policy's current values are the new term's, and so are its dates; the old term
    keeps its totals."""
    terms = apply_posting((TERM,), "installment", D("50.00"), D("7.50"), effective_date=date(2027, 2, 1), rate=RATE)
    old, renewal = terms
    assert old == TERM
    assert (renewal.start, renewal.end, renewal.id) == (T1, T2, None)
    assert totals(renewal) == (D("50.00"), D("50.00"), D("7.50"), D("7.50"))
    assert current_term(terms) is renewal
    # a later installment of the old term still goes to the old term
    terms = apply_posting(terms, "installment", D("25.00"), D("3.75"), effective_date=date(2026, 12, 1), rate=RATE)
    assert totals(terms[0]) == (D("1025.00"), D("625.00"), D("153.75"), D("93.75"))
    assert totals(terms[1]) == (D("50.00"), D("50.00"), D("7.50"), D("7.50"))


def test_a_renewal_term_policy_takes_its_own_dates_and_leaves_the_old_term() -> None:
    terms = apply_posting((TERM,), "term_policy", D("1700.00"), D("255.00"), effective_date=T1,
                          expiration_date=date(2027, 12, 15), rate=RATE)
    assert terms[0] == TERM
    assert (terms[1].start, terms[1].end) == (T1, date(2027, 12, 15))
    assert totals(current_term(terms)) == (D("1700.00"), D("1700.00"), D("255.00"), D("255.00"))


def test_a_late_posting_skipping_a_term_and_a_six_month_term() -> None:
    # two years on: the term moved by whole years; nothing in between is invented
    (_, later) = apply_posting((TERM,), "installment", D("10.00"), effective_date=date(2028, 3, 1), rate=RATE)
    assert (later.start, later.end) == (T2, date(2029, 1, 1))
    six = Term(date(2026, 1, 15), date(2026, 7, 15))
    (_, nxt) = apply_posting((six,), "installment", D("10.00"), effective_date=date(2026, 8, 1))
    assert (nxt.start, nxt.end) == (date(2026, 7, 15), date(2027, 1, 15))
    # a prior term (an audit of the year before) is kept apart and is not current
    terms = apply_posting((TERM,), "audit", D("30.00"), effective_date=date(2025, 11, 1))
    assert (terms[0].start, terms[0].end) == (date(2025, 1, 1), T0) and current_term(terms).start == T0


def test_a_new_term_never_overlaps_a_stored_one() -> None:
    short = Term(T0, date(2026, 11, 1))  # a term cut short; the next one stored already
    nxt = Term(date(2027, 1, 1), date(2028, 1, 1))
    terms = apply_posting((short, nxt), "installment", D("10.00"), effective_date=date(2026, 12, 1))
    assert [(t.start, t.end) for t in terms] == [(T0, date(2026, 11, 1)), (date(2026, 11, 1), T1), (T1, T2)]


def test_an_undated_term_takes_every_posting_and_a_term_policys_dates() -> None:
    undated = Term(None, None)
    (term,) = apply_posting((undated,), "installment", D("10.00"), effective_date=date(2026, 5, 1))
    assert (term.start, term.end, term.billed) == (None, None, D("10.00"))
    (term,) = apply_posting((term,), "term_policy", D("900.00"), effective_date=T0, expiration_date=T1)
    assert (term.start, term.end, term.annualized) == (T0, T1, D("900.00"))
    (term,) = apply_posting((Term(None, None),), "audit", D("5.00"))  # no date at all: the current term
    assert term.billed == D("5.00")


def test_estimated_commission_follows_the_annualized_premium_or_else_the_estimate() -> None:
    fresh = Term(T0, T1, estimated_commission=D("150.00"))
    (term,) = apply_posting((fresh,), "cancellation", D("-100.00"), D("-15.00"), effective_date=date(2026, 3, 1),
                            estimated_premium=D("1000.00"), rate=RATE)
    assert (term.annualized, term.estimated_commission) == (None, D("150.00"))  # no annualized yet: the estimate
    (term,) = apply_posting((term,), "term_policy", D("1200.00"), D("180.00"), effective_date=T0, expiration_date=T1,
                            estimated_premium=D("1000.00"), rate=RATE)
    assert term.estimated_commission == D("180.00")
    (term,) = apply_posting((term,), "audit", D("1.00"), effective_date=date(2026, 3, 1), rate=None)
    assert term.estimated_commission is None  # no rate: no estimate
    assert estimated_commission(D("10.005"), D(1)) == D("10.01")


def test_amounts_round_half_up_and_unknown_bill_types_are_refused() -> None:
    (term,) = apply_posting((), "audit", D("10.005"), D("1.005"))
    assert (term.annualized, term.billed, term.billed_commission) == (D("10.01"), D("10.01"), D("1.01"))
    with pytest.raises(ValueError):
        apply_posting((), "refund", D(1))
