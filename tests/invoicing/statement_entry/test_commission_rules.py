"""The pure rules of statement entry: commission arithmetic both ways, discrepancy, bill types."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from invoicing.domain.commission import (
    Amounts,
    CreditLine,
    EntryError,
    apply_amount_edit,
    commission_from_premium,
    default_bill_type,
    derive_status,
    parse_money,
    parse_rate,
    people_commission_amount,
    percent_of_agency,
    premium_from_commission,
    production_credit_discrepancy,
    rate_fraction,
    row_errors,
)


def test_commission_from_premium_rounds_half_up_to_cents() -> None:
    assert commission_from_premium(D("1000.00"), "percent", D("0.125")) == D("125.00")
    assert commission_from_premium(D("10.05"), "percent", D("0.5")) == D("5.03")  # 5.025 → 5.03
    assert commission_from_premium(D("10.01"), "percent", D("0.5")) == D("5.01")  # 5.005 → 5.01
    assert commission_from_premium(D("-10.05"), "percent", D("0.5")) == D("-5.03")  # half away from zero
    assert commission_from_premium(D("999.99"), "flat", D("25.00")) == D("25.00")


def test_premium_from_commission_rounds_half_up_and_refuses_zero_rate() -> None:
    assert premium_from_commission(D("120.00"), D("0.12")) == D("1000.00")
    assert premium_from_commission(D("100.00"), D("0.3")) == D("333.33")
    assert premium_from_commission(D("0.01"), D("0.04")) == D("0.25")
    assert premium_from_commission(D("0.05"), D("0.4")) == D("0.13")  # 0.125 → 0.13
    with pytest.raises(EntryError):
        premium_from_commission(D("10.00"), D(0))


def test_decimal_survives_addition_exactly() -> None:
    assert parse_money("0.10", "x") + parse_money("0.20", "x") == D("0.30")


BASE = Amounts(premium=D("1000.00"), rate_type="percent", rate=D("0.10"), commission=D("100.00"))


def test_percent_new_rate_recomputes_commission() -> None:
    row = apply_amount_edit(BASE, rate=D("0.15"), rate_given=True)
    assert (row.premium, row.commission) == (D("1000.00"), D("150.00"))


def test_percent_new_premium_recomputes_commission() -> None:
    row = apply_amount_edit(BASE, premium=D("333.33"), premium_given=True)
    assert row.commission == D("33.33")


def test_percent_commission_entered_recomputes_premium() -> None:
    row = apply_amount_edit(BASE, commission=D("50.00"), commission_given=True)
    assert (row.premium, row.rate, row.commission) == (D("500.00"), D("0.10"), D("50.00"))


def test_percent_premium_and_commission_entered_together_are_kept() -> None:
    row = apply_amount_edit(BASE, premium=D("10.00"), commission=D("7.00"), premium_given=True,
                            commission_given=True)
    assert (row.premium, row.commission) == (D("10.00"), D("7.00"))


def test_flat_commission_is_the_amount_and_premium_untouched() -> None:
    row = apply_amount_edit(BASE, rate_type="flat", rate=D("75.00"), rate_given=True)
    assert (row.premium, row.rate_type, row.rate, row.commission) == (D("1000.00"), "flat", D("75.00"), D("75.00"))
    row2 = apply_amount_edit(row, commission=D("80.00"), commission_given=True)
    assert (row2.premium, row2.rate, row2.commission) == (D("1000.00"), D("80.00"), D("80.00"))
    row3 = apply_amount_edit(row, premium=D("5.00"), premium_given=True)
    assert (row3.premium, row3.commission) == (D("5.00"), D("75.00"))


def test_switching_to_flat_keeps_commission_as_the_flat_amount() -> None:
    row = apply_amount_edit(BASE, rate_type="flat")
    assert (row.rate, row.commission, row.premium) == (D("100.00"), D("100.00"), D("1000.00"))


def test_switching_back_to_percent_needs_a_rate_and_recomputes() -> None:
    flat = Amounts(D("1000.00"), "flat", D("75.00"), D("75.00"))
    row = apply_amount_edit(flat, rate_type="percent", rate=D("0.05"), rate_given=True)
    assert row.commission == D("50.00")


@pytest.mark.parametrize(("text", "expected"), [("15%", D("0.15")), ("0.15", D("0.15")), ("12.5%", D("0.125"))])
def test_rates_accepted_as_percent_or_decimal(text: str, expected: D) -> None:
    assert parse_rate(text, "percent") == expected


@pytest.mark.parametrize("bad", ["abc", "150%", "-1", "0.1234567"])
def test_bad_rates_refused(bad: str) -> None:
    with pytest.raises(EntryError):
        parse_rate(bad, "percent")


@pytest.mark.parametrize("bad", ["1.005", "x", 1.5])
def test_bad_money_refused(bad: object) -> None:
    with pytest.raises(EntryError):
        parse_money(bad, "premium_paid")


def test_people_commission_and_percent_of_agency() -> None:
    assert people_commission_amount(D("100.00"), "percent", D("0.333")) == D("33.30")
    assert people_commission_amount(D("100.00"), "flat", D("12.50")) == D("12.50")
    assert percent_of_agency(D("25.00"), D("120.00")) == D("20.83")
    assert percent_of_agency(D("1.00"), D("0.00")) is None


def test_discrepancy_none_without_lines_or_when_credit_matches() -> None:
    assert production_credit_discrepancy(D("100.00"), []) == []
    lines = [CreditLine(D("60.00"), D("30.00")), CreditLine(D("40.00"), D("20.00"))]
    assert production_credit_discrepancy(D("100.00"), lines) == []


def test_discrepancy_when_credit_total_differs() -> None:
    assert production_credit_discrepancy(D("100.00"), [CreditLine(D("99.99"), D("10.00"))]) == ["credit_total"]


def test_discrepancy_on_opposite_sign_and_people_exceeding_agency() -> None:
    lines = [CreditLine(D("-50.00"), D("5.00")), CreditLine(D("-50.00"), D("5.00"))]
    assert production_credit_discrepancy(D("-100.00"), lines) == []
    assert "credit_sign" in production_credit_discrepancy(D("-100.00"), [CreditLine(D("10.00"), D(0)),
                                                                       CreditLine(D("-110.00"), D(0))])
    assert production_credit_discrepancy(D("100.00"), [CreditLine(D("100.00"), D("100.01"))]) == [
        "people_exceed_agency"]


@pytest.mark.parametrize(("bill_type", "code", "expected"), [
    ("audit", "NBS", "audit"), (None, "NBS", "term_policy"), (None, "RWL", "term_policy"),
    (None, "PCH", "endorsement"), (None, "XLC", "cancellation"), (None, "AUD", "audit"),
    (None, "REI", "cancellation"), (None, "rei", "cancellation"),
    (None, "ZZZ", "term_policy"), (None, None, "term_policy"), ("installment", None, "installment")])
def test_bill_type_defaults_from_the_line(bill_type: str | None, code: str | None, expected: str) -> None:
    assert default_bill_type(bill_type, code) == expected


def test_row_errors_lists_every_problem() -> None:
    errors = row_errors(policy_known=False, effective_date=date(2026, 2, 1), expiration_date=date(2026, 1, 1),
                        premium=None, rate_type="percent", rate=None, commission=None, bill_type="x")
    assert set(errors) == {"policy", "expiration_date", "premium_paid", "rate", "commission_paid", "bill_type"}
    assert row_errors(policy_known=True, effective_date=date(2026, 1, 1), expiration_date=None, premium=None,
                      rate_type="flat", rate=D(5), commission=D(5), bill_type="audit") == {}


def test_status_follows_the_stage() -> None:
    assert derive_status("open", unposted=0, posted_unpaid=0, paid=0) == "open"
    assert derive_status("open", unposted=2, posted_unpaid=1, paid=0) == "invoiced"
    assert derive_status("invoiced", unposted=0, posted_unpaid=1, paid=3) == "posted"
    assert derive_status("posted", unposted=0, posted_unpaid=0, paid=3) == "paid"
    assert derive_status("aborted", unposted=0, posted_unpaid=5, paid=0) == "aborted"


def test_today_is_taken_in_the_business_time_zone() -> None:
    from invoicing.reconciliations.usecases import business_today

    # UTC+14 and UTC-11 are 25 hours apart: never the same calendar day (two days apart during the
    # hour when it is just past midnight in one and just before midnight in the other)
    assert (business_today("Pacific/Kiritimati") - business_today("Pacific/Pago_Pago")).days in (1, 2)


def test_rates_shown_as_typed() -> None:
    from invoicing.statement_entry.queries import rate_input

    assert rate_input("percent", D("0.100000")) == "10%"
    assert rate_input("percent", D("0.125000")) == "12.5%"
    assert rate_input("percent", D("0.123457")) == "12.3457%"
    assert rate_input("percent", D(0)) == "0%"
    assert rate_input("flat", D("25.000000")) == "25.00"
    assert rate_input("percent", None) == ""
    for shown in ("10%", "12.5%", "12.3457%", "0%"):
        assert rate_input("percent", parse_rate(shown, "percent")) == shown


def test_a_rate_above_one_means_percent() -> None:
    # one rule for intake's policy snapshots and statement lines alike
    assert rate_fraction(D(15)) == D("0.150000")
    assert rate_fraction(D("12.5")) == D("0.125000")
    assert rate_fraction(D("0.15")) == D("0.150000")
    assert rate_fraction(D(1)) == D("1.000000")
    assert rate_fraction(None) is None
