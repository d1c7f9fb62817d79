"""What Create Policies makes of a statement's unmatched lines (pure rules): the status a transaction
code implies, the insured's kind, refused names, the estimated premium and agency commission."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from intake.domain.insured import ORGANISATION, PERSON
from intake.policy_sessions.domain.new_policies import plan_policy
from intake.statements.domain.mapping import DEFAULT_BILL_TYPES, status_for_code

D = Decimal


def line(n: int = 2, **kw):
    values = {"line_no": n, "insured_name": "Jane Roe", "transaction_type": "NBS", "bill_type": "term_policy",
              "effective_date": date(2026, 1, 15), "expiration_date": date(2027, 1, 15), "premium": D("1000.00"),
              "commission_rate": D("0.15"), "commission_amount": D("150.00")}
    values.update(kw)
    return values


@pytest.mark.parametrize(("code", "bill_type", "status"), [
    ("XLC", "cancellation", "cancelled"), ("CAN", "cancellation", "cancelled"), ("cnl", "cancellation", "cancelled"),
    ("Cancellation", "cancellation", "cancelled"), ("REI", "cancellation", "active"),
    ("REINSTATEMENT", "cancellation", "active"), ("NBS", "term_policy", "active"), ("RWL", "term_policy", "active"),
    ("PCH", "endorsement", "active"), ("AUD", "audit", "active"), ("RIX", "term_policy", "active"),
    ("ADJ", "endorsement", "active"),
    # a carrier's own code mapped in its profile: its bill type says what it is
    ("CX9", "cancellation", "cancelled"), ("NB9", "term_policy", "active"),
    (None, None, None), ("", None, None),
])
def test_the_status_a_transaction_code_implies(code, bill_type, status) -> None:
    assert status_for_code(code, bill_type) == status


def test_every_code_of_the_table_implies_a_status() -> None:
    assert all(status_for_code(code, bill_type) in ("active", "cancelled")
               for code, bill_type in DEFAULT_BILL_TYPES.items())


def test_a_cancellation_line_makes_a_cancelled_policy_and_a_reinstatement_an_active_one() -> None:
    xlc = plan_policy([line(transaction_type="XLC", bill_type="cancellation", premium=D("-120.00"),
                            commission_amount=D("-18.00"))])
    assert xlc.status == "cancelled" and xlc.status_source == "transaction code XLC"
    rei = plan_policy([line(transaction_type="REI", bill_type="cancellation")])
    assert rei.status == "active"
    # an operator's override wins; a blanket default only fills lines without a code
    assert plan_policy([line(transaction_type="XLC", bill_type="cancellation")], status="active").status == "active"
    assert plan_policy([line(transaction_type="XLC", bill_type="cancellation")],
                       default_status="active").status == "cancelled"
    assert plan_policy([line(transaction_type=None, bill_type=None)], default_status="pending").status == "pending"
    assert plan_policy([line(transaction_type=None, bill_type=None)]).status == "active"


def test_the_latest_line_of_a_policy_gives_its_status() -> None:
    plan = plan_policy([line(2), line(3, transaction_type="XLC", bill_type="cancellation",
                                      effective_date=date(2026, 6, 1), premium=D("-400.00"))])
    assert plan.status == "cancelled"
    # its premium and term come from the term line, not from the return premium
    assert (plan.estimated_premium, plan.effective_date, plan.expiration_date) == (
        D("1000.00"), date(2026, 1, 15), date(2027, 1, 15))


def test_an_organisation_is_not_split_and_a_person_is() -> None:
    org = plan_policy([line(insured_name="Chen & Sons, LLC")])
    assert org.insured.kind == ORGANISATION and org.insured.name == "Chen & Sons, LLC"
    assert (org.insured.first_name, org.insured.last_name) == (None, None)
    person = plan_policy([line(insured_name="Roe, Jane")])
    assert person.insured.kind == PERSON and (person.insured.first_name, person.insured.last_name) == ("Jane", "Roe")
    override = plan_policy([line(insured_name="ROE J")], client_name="Roe Holdings LLC")
    assert override.insured.kind == ORGANISATION and override.insured.name == "Roe Holdings LLC"


@pytest.mark.parametrize(("name", "override", "why"), [
    ("=HYPERLINK(\"http://x\")", None, "formula"), ("@SUM(A1)", None, "formula"), ("Jane Roe", "+1 555", "formula"),
    ("", None, "no insured name"), ("   ", None, "no insured name"),
])
def test_a_formula_or_a_missing_name_is_refused_with_its_reason(name, override, why) -> None:
    plan = plan_policy([line(insured_name=name)], client_name=override)
    assert plan.refused is not None and why in plan.refused
    assert plan.insured is None


def test_a_formula_name_with_a_proper_override_is_created() -> None:
    plan = plan_policy([line(insured_name="=cmd|'/c calc'!A1")], client_name="Jane Roe")
    assert plan.refused is None and plan.insured.name == "Jane Roe"


def test_estimated_commission_is_the_premium_times_the_rate() -> None:
    plan = plan_policy([line(premium=D("1234.56"), commission_rate=D("0.15"))])
    assert (plan.commission_rate, plan.estimated_commission) == (D("0.15"), D("185.18"))  # 185.184 half-up
    # no rate on the line: the line's own commission over its premium
    plan = plan_policy([line(premium=D("800.00"), commission_rate=None, commission_amount=D("100.00"))])
    assert (plan.commission_rate, plan.estimated_commission) == (D("0.125"), D("100.00"))
    # neither: the carrier's default rate
    plan = plan_policy([line(commission_rate=None, commission_amount=None)], default_rate=D("0.10"))
    assert (plan.commission_rate, plan.estimated_commission) == (D("0.10"), D("100.00"))
    # nothing to go on: no estimate rather than a made-up one
    plan = plan_policy([line(commission_rate=None, commission_amount=None)])
    assert (plan.commission_rate, plan.estimated_commission) == (None, None)


def test_a_policy_seen_only_in_a_cancellation_has_no_estimated_premium() -> None:
    plan = plan_policy([line(transaction_type="XLC", bill_type="cancellation", premium=D("-120.00"),
                             commission_amount=D("-18.00"), commission_rate=None)], default_rate=D("0.10"))
    assert plan.status == "cancelled"
    assert (plan.estimated_premium, plan.estimated_commission) == (None, None)
    assert plan.commission_rate == D("0.15")  # the return's rate is the policy's: 18 of 120
