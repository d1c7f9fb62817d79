"""Pure rules: amounts, rates, dates, header mapping, row validation, policy-number normalisation,
matching (the premium rule by bill type: test_policy_terms_rules.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from intake.domain.values import (
    ValueProblem,
    normalise_name,
    normalise_policy_number,
    parse_amount,
    parse_date,
    parse_rate,
)
from intake.statements.domain.mapping import MappingProfile, map_header, validate_line
from intake.statements.domain.matching import PolicyIndex

D = Decimal


@pytest.mark.parametrize(("raw", "expected"), [
    ("$1,234.56", D("1234.56")), ("(123.45)", D("-123.45")), ("-123.45", D("-123.45")), ("123.45-", D("-123.45")),
    ("1234", D("1234")), ("$ 0.10", D("0.10")), ("-$5.00", D("-5.00")), ("'-12.50", D("-12.50")), ("", None),
    ("  ", None), ("1,234,567.89", D("1234567.89")),
])
def test_amounts_are_exact(raw: str, expected: Decimal | None) -> None:
    assert parse_amount(raw) == expected
    if expected is not None:
        assert str(parse_amount(raw)) == str(expected)


@pytest.mark.parametrize("raw", ["abc", "1,23", "1.234", "=1+2", "12..3", "(-5)", "1e5", "NaN", "1.2.3"])
def test_bad_amounts_are_refused(raw: str) -> None:
    with pytest.raises(ValueProblem):
        parse_amount(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("15%", D("0.15")), ("0.15", D("0.15")), ("15", D("0.15")), ("12.5 %", D("0.125")), ("1", D("1")),
    ("0", D("0")), ("", None),
])
def test_rates(raw: str, expected: Decimal | None) -> None:
    assert parse_rate(raw) == expected


@pytest.mark.parametrize("raw", ["x", "150%", "15%%"])
def test_bad_rates(raw: str) -> None:
    with pytest.raises(ValueProblem):
        parse_rate(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-01-31", date(2026, 1, 31)), ("01/31/2026", date(2026, 1, 31)), ("1/2/2026", date(2026, 1, 2)),
    ("1-31-2026", date(2026, 1, 31)), ("01/31/26", date(2026, 1, 31)), ("20260131", date(2026, 1, 31)),
    ("31-Jan-2026", date(2026, 1, 31)), ("Jan 31, 2026", date(2026, 1, 31)), ("2026/01/31", date(2026, 1, 31)),
    ("2026-01-31T00:00:00", date(2026, 1, 31)), ("", None),
])
def test_dates(raw: str, expected: date | None) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["2026-02-30", "31/31/2026", "yesterday", "13/01/2026"])
def test_bad_dates(raw: str) -> None:
    with pytest.raises(ValueProblem):
        parse_date(raw)


def test_policy_number_normalisation() -> None:
    assert normalise_policy_number(" ab-12 34 ") == "AB1234"
    assert normalise_policy_number("ACM-AB1234", ("ACM",)) == "AB1234"
    assert normalise_policy_number("acm ab.12/34", ("ACM-",)) == "AB1234"
    assert normalise_policy_number("ACM", ("ACM",)) == "ACM"  # a number is never only its prefix
    assert normalise_name("  Smith,  John ") == normalise_name("smith john") == "smith john"


@pytest.mark.parametrize("header", [
    ["Policy #", "Named Insured", "Eff Date", "Comm %", "Comm Amt"],
    ["POLICY NO", "Insured Name", "Effective Date", "Commission Rate", "Commission"],
    ["policy_number", "insured_name", "premium"],
    ["Policy No.", "Policyholder", "Written Premium"],
])
def test_default_profile_recognises_common_headers(header: list[str]) -> None:
    cols = map_header(header, MappingProfile())
    assert cols is not None and cols["policy_number"] == 0 and len(cols) == len(header)


def test_profile_columns_win_and_non_headers_are_refused() -> None:
    profile = MappingProfile(columns={"policy_number": "Contract", "premium": "Amt Due"})
    assert map_header(["Contract", "Amt Due"], profile) == {"policy_number": 0, "premium": 1}
    assert map_header(["Contract", "Amt Due"], MappingProfile()) is None
    assert map_header(["Acme statement for October"], MappingProfile()) is None
    assert map_header(["Policy #"], MappingProfile()) is None  # one column is not a statement


HEADER = ["Policy #", "Named Insured", "Trans Type", "Eff Date", "Exp Date", "Premium", "Comm %", "Comm Amt"]


DEFAULT_PROFILE = MappingProfile()


def _line(cells: list[str], profile: MappingProfile = DEFAULT_PROFILE):
    cols = map_header(HEADER, profile)
    assert cols is not None
    return validate_line(cells, HEADER, cols, profile)


def test_valid_line_maps_transaction_type_to_bill_type() -> None:
    r = _line(["AB-1", "Jane Roe", "XLC", "01/01/2026", "01/01/2027", "(50.00)", "15%", "(7.50)"])
    assert r.valid, r.errors
    assert r.values["bill_type"] == "cancellation" and r.values["premium"] == D("-50.00")
    assert r.values["commission_rate"] == D("0.15") and r.normalised_number == "AB1"
    custom = MappingProfile.from_stored({}, {"zz9": "audit"}, [], None)
    assert _line(["AB-1", "J", "ZZ9", "", "", "1", "", ""], custom).values["bill_type"] == "audit"


def test_invalid_line_reports_every_reason_and_keeps_raw_values() -> None:
    r = _line(["=CMD()", "x" * 10_000, "ZZZ", "31/31/2026", "01/01/2020", "abc", "200%", "", "extra"])
    assert not r.valid
    text = " | ".join(r.errors)
    for fragment in ("policy number has characters", "insured name is longer", "transaction type 'ZZZ'",
                     "effective date", "premium: not an amount", "commission rate"):
        assert fragment in text, text
    assert r.raw["Policy #"] == "=CMD()" and r.raw["column 9"] == "extra" and len(r.raw["Named Insured"]) == 10_000


def test_missing_policy_number_and_amounts() -> None:
    r = _line(["", "Jane", "", "", "", "", "", ""])
    assert "policy number is missing" in r.errors
    assert "neither premium nor commission amount is given" in r.errors
    r = _line(["P1", "Jane", "", "02/01/2026", "01/01/2026", "5", "", ""])
    assert r.errors == ["expiration date is before effective date"]


def test_embedded_newlines_are_folded_in_text_fields() -> None:
    r = _line(["P1", "Jane\nRoe", "", "", "", "5", "", ""])
    assert r.valid and r.values["insured_name"] == "Jane Roe"


def test_matching_exact_normalised_ambiguous_unmatched() -> None:
    index = PolicyIndex(MappingProfile(prefixes=("ACM",)), [("p1", "AB-100"), ("p2", "CD 200"), ("p3", "CD-200"),
                                                           ("p4", "ACM-EF300")])
    assert index.match("AB-100").status == "matched" and index.match("AB-100").reason == "exact policy number"
    m = index.match("ab 100")
    assert (m.status, m.policy_id) == ("matched", "p1") and "normalised" in m.reason
    m = index.match("cd200")
    assert m.status == "ambiguous" and "CD 200" in m.reason and "CD-200" in m.reason
    assert index.match("EF300").policy_id == "p4"  # the carrier prefix is ignored
    m = index.match("ZZ-1")
    assert m.status == "unmatched" and "ZZ1" in m.reason


@pytest.mark.parametrize("prefixes", [(), ("ACM", "AC-"), ("ac",)])
def test_profile_normalisation_is_the_rule_of_values(prefixes: tuple[str, ...]) -> None:
    profile = MappingProfile(prefixes=prefixes)
    for number in ("AC-100", " ac 100 ", "'-AC/1.0_0", "ACM", "acm-7", "", None, "\tX-1\n", "'=1"):
        assert profile.normalise(number) == normalise_policy_number(number, prefixes), number


# -- real carrier layouts (DOMAIN-FACTS 1.6) ------------------------------------------------------------
EZLYNX = ["Agency ID", "Producer Subcode", "Policy Number", "Transaction Date", "Transaction Type Code", "Premium",
          "Comm Percent", "Comm Amount", "LOB Code", "Policy Holder Name", "LOB Subcode", "Policy Eff Date",
          "Policy Exp Date"]


def test_ezlynx_template_maps_every_statement_field() -> None:
    cols = map_header(EZLYNX, MappingProfile())
    assert cols == {
        "policy_number": 2, "insured_name": 9, "transaction_type": 4, "effective_date": 11, "expiration_date": 12,
        "line_of_business": 8, "premium": 5, "commission_rate": 6, "commission_amount": 7, "producer_code": 1,
    }  # the policy's effective date wins over the transaction date; Agency ID and LOB Subcode stay unmapped
    r = validate_line(["AG1", "P07", "HO-123", "03/01/2026", "NBS", "$1,200.00", "15%", "180.00", "HOME", "Jane Roe",
                       "", "03/01/2026", "03/01/2027"], EZLYNX, cols, MappingProfile())
    assert r.valid, r.errors
    assert (r.values["bill_type"], r.values["effective_date"], r.values["commission_rate"]) == (
        "term_policy", date(2026, 3, 1), D("0.15"))


def test_agentero_and_open_source_statement_layouts() -> None:
    agentero = ["Agent", "Policyholder", "Policy Number", "Effective Date", "Written Premium",
                "Fees & Taxes", "Commissionable Amount", "Rate", "Commission", "Transaction Type"]
    cols = map_header(agentero, MappingProfile())
    assert cols is not None
    assert (cols["producer_code"], cols["insured_name"], cols["policy_number"], cols["effective_date"]) == (0, 1, 2, 3)
    # the written premium is the policy's premium; fees & taxes and the commissionable amount are not
    assert (cols["premium"], cols["commission_rate"], cols["commission_amount"], cols["transaction_type"]) == (
        4, 7, 8, 9)
    assert 5 not in cols.values() and 6 not in cols.values()
    # without a written premium column, the commissionable amount is the premium
    only = map_header(["Policy Number", "Commissionable Amount", "Commission"], MappingProfile())
    assert only == {"policy_number": 0, "premium": 1, "commission_amount": 2}
    anonymised = map_header(["Insured Name", "Policy", "Eff Date", "Premium", "Commission"], MappingProfile())
    assert anonymised == {"insured_name": 0, "policy_number": 1, "effective_date": 2, "premium": 3,
                          "commission_amount": 4}


@pytest.mark.parametrize(("code", "bill_type"), [
    ("NBS", "term_policy"), ("RWL", "term_policy"), ("RIX", "term_policy"), ("PCH", "endorsement"),
    ("ADJ", "endorsement"), ("XLC", "cancellation"), ("REI", "cancellation"), ("AUD", "audit"),
    ("rwl", "term_policy"), (" xlc ", "cancellation"),
])
def test_carrier_transaction_codes_map_to_seed_003_bill_types(code: str, bill_type: str) -> None:
    r = _line(["AB-1", "Jane Roe", code, "01/01/2026", "01/01/2027", "100.00", "", ""])
    assert r.valid, r.errors
    assert r.values["bill_type"] == bill_type and r.values["transaction_type"] == code.strip()


def test_a_carrier_profile_can_remap_a_default_code() -> None:
    custom = MappingProfile.from_stored({}, {"rei": "term_policy"}, [], None)
    assert _line(["AB-1", "J", "REI", "", "", "1", "", ""], custom).values["bill_type"] == "term_policy"
    assert _line(["AB-1", "J", "XLC", "", "", "1", "", ""], custom).values["bill_type"] == "cancellation"


# -- the right policy term (DOMAIN-FACTS 1.6: "prevent reconciling the wrong policy term") -----------------
Y25, Y26, Y27 = date(2025, 3, 1), date(2026, 3, 1), date(2027, 3, 1)


def test_the_effective_date_picks_the_term_among_policies_sharing_a_number() -> None:
    index = PolicyIndex(MappingProfile(), [("old", "HO-123", Y25, Y26), ("new", "HO 123", Y26, Y27),
                                           ("other", "AU-9", Y25, Y26)])
    m = index.match("HO123", effective_date=date(2026, 7, 4))
    assert (m.status, m.policy_id) == ("matched", "new")
    assert m.reason.startswith("policy term by effective date") and "HO 123 (2026-03-01 to 2027-03-01)" in m.reason
    assert index.match("HO-123", effective_date=Y25).policy_id == "old"
    assert index.match("HO 123", effective_date=Y26).policy_id == "new"  # a term ends the day the next starts
    # no date, or a date in neither term: ambiguous, naming the candidates with their terms
    for day in (None, date(2024, 1, 1), Y27):
        m = index.match("HO123", effective_date=day)
        assert (m.status, m.policy_id) == ("ambiguous", None), day
        assert "HO-123 (2025-03-01 to 2026-03-01)" in m.reason and "HO 123 (2026-03-01 to 2027-03-01)" in m.reason
    assert "picks no single term" in index.match("HO123", effective_date=Y27).reason
    # a single policy matches whatever the date
    assert index.match("AU9", effective_date=date(2030, 1, 1)).policy_id == "other"


def test_overlapping_or_open_terms_fall_back_to_the_term_starting_that_day() -> None:
    index = PolicyIndex(MappingProfile(), [("a", "P-1", Y25, None), ("b", "P1", Y26, None), ("c", "p 1", None, None)])
    assert index.match("P1", effective_date=Y26).policy_id == "b"
    assert index.match("P1", effective_date=date(2026, 6, 1)).status == "ambiguous"  # both open terms cover it
    assert index.match("P1", effective_date=date(2025, 6, 1)).policy_id == "a"
