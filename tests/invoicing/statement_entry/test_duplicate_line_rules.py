"""The pure rule of issue 13 item 1: which statement-entry row is the same line as an invoice of
another reconciliation, and how the flag reads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from invoicing.domain.duplicates import EarlierInvoice, LineIdentity, duplicate_message, excluded, same_line

LINE = LineIdentity("p-1", "term_policy", date(2026, 1, 15), Decimal("1234.56"), Decimal("185.18"))


def test_the_same_policy_bill_type_date_and_amounts_is_the_same_line() -> None:
    again = LineIdentity("p-1", "term_policy", date(2026, 1, 15), Decimal("1234.56"), Decimal("185.18"))
    assert same_line(again, LINE)


def test_any_identifying_field_that_differs_makes_another_line() -> None:
    assert not same_line(LineIdentity("p-2", "term_policy", date(2026, 1, 15), Decimal("1234.56"), Decimal("185.18")), LINE)
    assert not same_line(LineIdentity("p-1", "endorsement", date(2026, 1, 15), Decimal("1234.56"), Decimal("185.18")), LINE)
    # the next installment of the same policy carries its own transaction date
    assert not same_line(LineIdentity("p-1", "term_policy", date(2026, 2, 15), Decimal("1234.56"), Decimal("185.18")), LINE)
    assert not same_line(LineIdentity("p-1", "term_policy", date(2026, 1, 15), Decimal("1234.57"), Decimal("185.18")), LINE)
    assert not same_line(LineIdentity("p-1", "term_policy", date(2026, 1, 15), Decimal("1234.56"), Decimal("185.19")), LINE)


def test_a_missing_premium_counts_as_zero_and_a_row_without_policy_or_date_matches_nothing() -> None:
    flat = LineIdentity("p-1", "audit", date(2026, 1, 1), None, Decimal("25.00"))
    assert same_line(flat, LineIdentity("p-1", "audit", date(2026, 1, 1), Decimal("0.00"), Decimal("25.00")))
    assert not same_line(LineIdentity(None, "audit", date(2026, 1, 1), None, Decimal("25.00")),
                         LineIdentity(None, "audit", date(2026, 1, 1), None, Decimal("25.00")))
    assert not same_line(LineIdentity("p-1", "audit", None, None, Decimal("25.00")),
                         LineIdentity("p-1", "audit", None, None, Decimal("25.00")))


def test_the_flag_in_words() -> None:
    paid = EarlierInvoice(reconciliation_number=3, item_id=17, status="paid", paid_on=date(2026, 3, 31))
    assert duplicate_message(paid) == "already paid in reconciliation 3 on 2026-03-31 (item 17(S))"
    assert duplicate_message(EarlierInvoice(4, 18, "posted")) == "already invoiced in reconciliation 4 (item 18(S))"
    assert duplicate_message(EarlierInvoice(4, 19, "unposted")) == "already invoiced in reconciliation 4 (item 19(S))"


def test_a_flagged_row_is_held_back_until_confirmed() -> None:
    assert excluded(flagged=True, confirmed=False)
    assert not excluded(flagged=True, confirmed=True)
    assert not excluded(flagged=False, confirmed=False)
