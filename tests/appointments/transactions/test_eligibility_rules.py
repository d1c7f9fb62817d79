"""The eligibility engine, table-driven: one case per row of the seed's Eligibility Reasons
Dictionary, plus the request-level rules (NPN checks, JIT and submit flags, assignment required,
duplicates, recategorisation). Pure: no database, no broker."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from appointments.domain import vocabulary as v
from appointments.domain.eligibility import (
    AppointRequest,
    Existing,
    License,
    Producer,
    RefData,
    TerminateRequest,
    effective,
    evaluate,
    evaluate_termination,
    norm,
)

TODAY = date(2026, 11, 23)
CA_LH = ["Life", "Accident & Health or Sickness (including Disability)", "Health and Sickness (excluding Disability)",
         "Part time fraternal"]


def rule(state, cat, line, active=True, eff=date(2024, 1, 1), rid=0):
    return {"id": rid, "state": state, "loa_category": cat, "line_of_authority": line, "active": active,
            "effective_date": eff, "recorded_at": eff}


def ref(assignment_required: bool = False) -> RefData:
    rules = [rule("CA", "Life & Health", line) for line in CA_LH]
    rules += [rule("TX", "Life & Health", "Life, Accident and Health"), rule("TX", "Life & Health", "Life Agent"),
              rule("FL", "Life & Health", "Life"), rule("FL", "Life & Health", "Health"),
              rule("CA", "Property & Casualty", "Property"), rule("CA", "Miscellaneous", "Bail"),
              rule("NY", "Life & Health", "Life"),
              # a rule change is a new row: TX retired this line from 2025
              rule("TX", "Life & Health", "HMO", eff=date(2024, 1, 1), rid=1),
              rule("TX", "Life & Health", "HMO", active=False, eff=date(2025, 1, 1), rid=2)]
    settings = [{"id": 1, "company_id": "summit", "state": st, "appoints": True, "jit": st == "FL",
                 "effective_date": date(2024, 1, 1), "recorded_at": date(2024, 1, 1)} for st in ("CA", "TX", "FL")]
    settings.append({"id": 2, "company_id": "harbor", "state": "CA", "appoints": True, "jit": False,
                     "effective_date": date(2024, 1, 1), "recorded_at": date(2024, 1, 1)})
    fees = [{"id": 1, "state": "CA", "appointment_fee": Decimal("24.00"), "effective_date": date(2024, 1, 1),
             "recorded_at": date(2024, 1, 1)},
            {"id": 2, "state": "FL", "appointment_fee": Decimal("60.00"), "effective_date": date(2024, 1, 1),
             "recorded_at": date(2024, 1, 1)}]
    return RefData.build(
        TODAY,
        companies=[{"id": "summit", "name": "Summit Mutual Life", "loa_categories": "Life & Health;Miscellaneous"},
                   {"id": "harbor", "name": "Harbor P&C", "loa_categories": "Property & Casualty"}],
        cocodes=[{"cocode": "60054", "company_id": "summit"}, {"cocode": "24341", "company_id": "harbor"}],
        state_settings=settings, business_rules=rules, fees=fees, termination_reasons=[],
        assignment_required=assignment_required)


def lic(state, lines, *, resident=False, active=True, expires=date(2030, 1, 1), number=None):
    return License(state, number or f"{state}-1", "Insurance Producer", frozenset(norm(x) for x in lines), active,
                   resident, expires)


def producer(*licenses: License, synced=True, active=True, assignments=()) -> Producer:
    p = Producer("1234567", synced=synced, active=active, assignments=set(assignments))
    for item in licenses:
        p.licenses.setdefault(item.state, []).append(item)
    return p


RESIDENT_TX = lic("TX", ["Life, Accident and Health", "Life Agent"], resident=True, number="TX-R")


def req(states=("CA",), category="Life & Health", cocodes=("60054",), submit=False, jit=False) -> AppointRequest:
    return AppointRequest("1234567", tuple(states), category, tuple(cocodes), submit, jit)


# (dictionary row, producer, request, expected [(line, status, reason)] in order)
CASES = [
    ("license inactive in requested state -> Required License Not Active (Found)",
     producer(RESIDENT_TX, lic("CA", CA_LH, active=False)), req(),
     [(line, v.NOT_ELIGIBLE, v.LICENSE_NOT_ACTIVE) for line in CA_LH]),
    ("license expired in requested state -> Required License Not Active (Found)",
     producer(RESIDENT_TX, lic("CA", CA_LH, expires=date(2026, 1, 1))), req(),
     [(line, v.NOT_ELIGIBLE, v.LICENSE_NOT_ACTIVE) for line in CA_LH]),
    ("LOAs on license -> In Good Standing / Ready; LOAs not on license -> Required License Not Found",
     producer(RESIDENT_TX, lic("CA", ["Life", "Part time fraternal"])), req(),
     [("Life", v.READY, v.IN_GOOD_STANDING),
      ("Accident & Health or Sickness (including Disability)", v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND),
      ("Health and Sickness (excluding Disability)", v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND),
      ("Part time fraternal", v.READY, v.IN_GOOD_STANDING)]),
    ("more than one eligible license in the state -> one Ready transaction per license",
     producer(RESIDENT_TX, lic("CA", ["Life"], number="CA-A"), lic("CA", ["Life"], number="CA-B")), req(),
     [("Life", v.READY, v.IN_GOOD_STANDING), ("Life", v.READY, v.IN_GOOD_STANDING)]
     + [(line, v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND) for line in CA_LH[1:]]),
    ("eligible license gets transactions, the ineligible one none (its lines Not Found)",
     producer(RESIDENT_TX, lic("CA", CA_LH[:2], number="CA-A"), lic("CA", [], number="CA-B")), req(),
     [(CA_LH[0], v.READY, v.IN_GOOD_STANDING), (CA_LH[1], v.READY, v.IN_GOOD_STANDING),
      (CA_LH[2], v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND), (CA_LH[3], v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND)]),
    ("expired resident license, active non-resident license -> No Active Resident License",
     producer(lic("TX", ["Life Agent"], resident=True, expires=date(2025, 1, 1)), lic("CA", CA_LH)), req(),
     [(line, v.NOT_ELIGIBLE, v.NO_ACTIVE_RESIDENT) for line in CA_LH]),
    ("resident license Active = FALSE -> No Active Resident License",
     producer(lic("TX", ["Life Agent"], resident=True, active=False), lic("CA", CA_LH)), req(),
     [(line, v.NOT_ELIGIBLE, v.NO_ACTIVE_RESIDENT) for line in CA_LH]),
    ("no license in the requested state -> Required License Not Found",
     producer(RESIDENT_TX), req(),
     [(line, v.NOT_ELIGIBLE, v.LICENSE_NOT_FOUND) for line in CA_LH]),
    ("company has no state setting for the state -> <Company> does not appoint in the requested State",
     producer(RESIDENT_TX, lic("NY", ["Life"])), req(states=("NY",)),
     [("Life", v.NOT_ELIGIBLE, "Summit Mutual Life does not appoint in the requested State: NY")]),
    ("company record missing the LOA category -> Company Does Not Appoint for requested loas",
     producer(RESIDENT_TX, lic("CA", CA_LH)), req(cocodes=("24341",)),
     [(line, v.NOT_ELIGIBLE, v.COMPANY_NO_LOAS) for line in CA_LH]),
    ("no company for the CoCode -> CoCode Not Found",
     producer(RESIDENT_TX, lic("CA", CA_LH)), req(cocodes=("99999",)),
     [(line, v.NOT_ELIGIBLE, v.COCODE_NOT_FOUND) for line in CA_LH]),
    ("JIT state -> eligible transactions created as JIT and held",
     producer(RESIDENT_TX, lic("FL", ["Life", "Health"])), req(states=("FL",)),
     [("Life", v.JIT_HELD, v.IN_GOOD_STANDING), ("Health", v.JIT_HELD, v.IN_GOOD_STANDING)]),
]


@pytest.mark.parametrize("name,prod,request_,expected", CASES, ids=[c[0][:60] for c in CASES])
def test_dictionary(name, prod, request_, expected) -> None:
    result = evaluate(request_, prod, ref())
    assert result.rejection_reason is None
    got = [(t.line_of_authority, t.status, t.eligibility_reason) for t in result.transactions]
    assert got == expected
    for t in result.transactions:
        assert t.billable == (t.eligibility_reason == v.IN_GOOD_STANDING)
        assert (t.fee is None) == (not t.billable)  # not-eligible transactions are never billed


def test_company_not_appointing_in_state_uses_company_name_and_state() -> None:
    result = evaluate(req(states=("TX",), category="Property & Casualty", cocodes=("24341",)),
                      producer(RESIDENT_TX), ref())
    # TX has no P&C lines in this reference data: a Not Eligible transaction says so, never billed
    assert [(t.line_of_authority, t.status, t.eligibility_reason, t.billable, t.fee) for t in result.transactions] == \
        [("Property & Casualty", v.NOT_ELIGIBLE, "Harbor P&C does not appoint in the requested State: TX", False, None)]
    assert result.refusals == []
    # no line in the state and the company lacks the category, or the CoCode is unknown: company first
    for cocode, reason in (("60054", v.COMPANY_NO_LOAS), ("99999", v.COCODE_NOT_FOUND)):
        other = evaluate(req(states=("TX",), category="Property & Casualty", cocodes=(cocode,)), producer(RESIDENT_TX),
                         ref())
        assert [t.eligibility_reason for t in other.transactions] == [reason]
    ca = evaluate(req(states=("CA",), category="Life & Health", cocodes=("60054",)), producer(RESIDENT_TX), ref())
    assert ca.transactions
    harbor_tx = evaluate(AppointRequest("1234567", ("CA",), "Property & Casualty", ("24341",)),
                         producer(RESIDENT_TX, lic("CA", ["Property"])), ref())
    assert [t.eligibility_reason for t in harbor_tx.transactions] == [v.IN_GOOD_STANDING]
    r = ref()
    del r.state_settings[("harbor", "CA")]
    missing = evaluate(AppointRequest("1234567", ("CA",), "Property & Casualty", ("24341",)),
                       producer(RESIDENT_TX, lic("CA", ["Property"])), r)
    assert [t.eligibility_reason for t in missing.transactions] == \
        ["Harbor P&C does not appoint in the requested State: CA"]


@pytest.mark.parametrize("prod,reason", [
    (None, v.NPN_NOT_FOUND),
    (producer(RESIDENT_TX, synced=False), v.NPN_NOT_SYNCED),
    (producer(RESIDENT_TX, active=False), v.NPN_NOT_ACTIVE),
])
def test_npn_must_exist_be_synced_and_active(prod, reason) -> None:
    result = evaluate(req(), prod, ref())
    assert result.rejection_reason == reason and result.transactions == []


@pytest.mark.parametrize("submit,jit,auto", [
    (False, False, {"CA": False, "FL": False}),
    (True, False, {"CA": True, "FL": False}),     # submit: non-JIT eligible auto-submitted
    (False, True, {"CA": False, "FL": True}),     # submitJustInTime: JIT ones auto-submitted
    (True, True, {"CA": True, "FL": True}),
])
def test_submit_and_submit_just_in_time_flags(submit, jit, auto) -> None:
    prod = producer(RESIDENT_TX, lic("CA", ["Life"]), lic("FL", ["Life"]))
    result = evaluate(req(states=("CA", "FL"), submit=submit, jit=jit), prod, ref())
    eligible = [t for t in result.transactions if t.billable]
    assert {t.state: t.auto_submit for t in eligible} == auto
    assert all(not t.auto_submit for t in result.transactions if not t.billable)  # never submitted, never billed
    assert {t.state: t.status for t in eligible} == {"CA": v.READY, "FL": v.JIT_HELD}
    assert {t.state: t.fee for t in eligible} == {"CA": Decimal("24.00"), "FL": Decimal("60.00")}


def test_assignment_required_rejects_requests_outside_the_assignment() -> None:
    prod = producer(RESIDENT_TX, lic("CA", ["Life"]), lic("FL", ["Life"]),
                    assignments=[(norm("Life & Health"), "CA", "60054")])
    inside = evaluate(req(states=("CA",)), prod, ref(assignment_required=True))
    assert inside.rejection_reason is None and len(inside.transactions) == 4
    partly = evaluate(req(states=("CA", "FL")), prod, ref(assignment_required=True))
    assert {t.state for t in partly.transactions} == {"CA"}
    assert [(r.state, r.reason) for r in partly.refusals] == [("FL", v.OUTSIDE_ASSIGNMENT)]
    outside = evaluate(req(states=("FL",)), prod, ref(assignment_required=True))
    assert outside.rejection_reason == v.OUTSIDE_ASSIGNMENT and outside.transactions == []
    # with the setting off, the assignment does not matter
    assert evaluate(req(states=("FL",)), prod, ref()).transactions


def test_identical_open_transaction_is_refused_not_created_twice() -> None:
    prod = producer(RESIDENT_TX, lic("CA", ["Life"]))
    known: dict = {}
    first = evaluate(req(), prod, ref(), known)
    second = evaluate(req(), prod, ref(), known)
    assert [t.line_of_authority for t in first.transactions if t.billable] == ["Life"]
    assert second.transactions == [] and second.identical  # nothing twice, eligible or not
    by_reason = {(r.line_of_authority, r.reason): [e.id for e in r.matches] for r in second.refusals}
    assert by_reason == {(t.line_of_authority, v.DUPLICATE_OPEN if t.billable else v.DUPLICATE_NOT_ELIGIBLE): [t.id]
                         for t in first.transactions}
    # pending at NIPR (auto-submitted) vs still open here (Ready)
    sent: dict = {}
    evaluate(req(submit=True), prod, ref(), sent)
    assert [r.reason for r in evaluate(req(), prod, ref(), sent).refusals if r.line_of_authority == "Life"] == \
        [v.DUPLICATE_PENDING]
    # a Not Eligible line on record for another reason is recorded again (the facts changed)
    key = ("appointment", "1234567", "CA", norm(CA_LH[1]), "60054")
    changed = {key: [Existing("old", v.NOT_ELIGIBLE, "b", v.COCODE_NOT_FOUND)]}
    assert [t.line_of_authority for t in evaluate(req(), prod, ref(), changed).transactions
            if t.line_of_authority == CA_LH[1]] == [CA_LH[1]]


def test_a_later_request_releases_what_it_matches_when_it_asks_to_send() -> None:
    prod = producer(RESIDENT_TX, lic("FL", ["Life", "Health"]), lic("CA", ["Life"]))
    known: dict = {}
    held = evaluate(req(states=("FL", "CA")), prod, ref(), known)
    assert {(t.state, t.status) for t in held.transactions} == {("FL", v.JIT_HELD), ("CA", v.READY)} | {
        ("CA", v.NOT_ELIGIBLE)}
    jit_only = evaluate(req(states=("FL", "CA"), jit=True), prod, ref(), known)
    assert sorted(e.id for e in jit_only.released) == sorted(t.id for t in held.transactions if t.state == "FL")
    assert [r.reason for r in jit_only.refusals if r.state == "CA" and r.line_of_authority == "Life"] == \
        [v.DUPLICATE_OPEN]  # submitJustInTime does not send a non-JIT Ready one
    both = evaluate(req(states=("FL", "CA"), submit=True), prod, ref(), known)
    assert [e.id for e in both.released] == [t.id for t in held.transactions if t.status == v.READY]
    assert {r.reason for r in both.refusals if r.state == "FL"} == {v.DUPLICATE_PENDING}  # released: pending now


def test_termination_engine() -> None:
    r = ref()
    r.termination_codes = {"CA": {"VOLUNTARY_TERMINATION": "Voluntary"}, "TX": {"DEATH": "Death"}}
    r.default_termination = {"CA": "VOLUNTARY_TERMINATION"}
    r.for_cause_manual = {"CA": "write to the department"}
    appointed = {("appointment", "1234567", "CA", "life", "60054"): "Life"}
    known: dict = {}
    tasks: set = set()

    def judge(state="CA", line="LIFE", code=None, for_cause=False, cocode="60054"):
        return evaluate_termination(TerminateRequest("1234567", state, line, cocode, code, for_cause), r, appointed,
                                    known, tasks)

    assert judge(state="TX").refusal == "no Termination Reason Code given and no default code for State: TX"
    assert judge(code="DEATH").refusal == "Termination Reason Code DEATH is not accepted in State: CA"
    assert judge(cocode="99999").refusal == "CoCode 99999 is not a known CoCode"
    assert judge(line="Health").refusal == "no Appointed appointment for NPN 1234567, State: CA, Health, CoCode 60054"
    manual = judge(for_cause=True)
    assert (manual.manual, manual.transaction, manual.code) == ("write to the department", None, "VOLUNTARY_TERMINATION")
    assert judge().refusal == v.termination_already_open("1234567", "CA", "Life", "60054")  # the task is open
    tasks.clear()
    made = judge()
    assert (made.transaction.line_of_authority, made.transaction.status, made.transaction.billable) == \
        ("Life", v.READY, True)
    again = judge()
    assert again.refusal and [e.id for e in again.matches] == [made.transaction.id]


def test_a_line_instead_of_a_category_is_recategorised_never_dropped() -> None:
    prod = producer(RESIDENT_TX, lic("CA", ["Bail"]))
    result = evaluate(req(category="bail"), prod, ref())
    assert [(t.line_of_authority, t.loa_category, t.status) for t in result.transactions] == \
        [("Bail", "Miscellaneous", v.READY)]
    partly = evaluate(req(states=("CA", "TX"), category="Bail"), prod, ref())
    assert [(t.state, t.line_of_authority, t.status, t.eligibility_reason) for t in partly.transactions] == \
        [("CA", "Bail", v.READY, v.IN_GOOD_STANDING), ("TX", "Bail", v.NOT_ELIGIBLE, v.line_not_in_state("Bail", "TX"))]
    unknown = evaluate(req(category="not_applicable"), prod, ref())
    assert unknown.rejection_reason == v.unsupported_line("not_applicable")


def test_rule_changes_are_new_rows_and_take_effect_on_their_date() -> None:
    prod = producer(lic("TX", ["Life Agent", "HMO", "Life, Accident and Health"], resident=True))
    lines_now = [t.line_of_authority for t in evaluate(req(states=("TX",)), prod, ref()).transactions]
    assert "HMO" not in lines_now
    r2024 = ref()
    r2024_old = RefData.build(date(2024, 6, 1), companies=[{"id": "summit", "name": "S", "loa_categories": "Life & Health"}],
                              cocodes=[{"cocode": "60054", "company_id": "summit"}],
                              state_settings=[{"id": 1, "company_id": "summit", "state": "TX", "appoints": True,
                                               "jit": False, "effective_date": date(2024, 1, 1),
                                               "recorded_at": date(2024, 1, 1)}],
                              business_rules=[rule("TX", "Life & Health", "HMO", rid=1),
                                              rule("TX", "Life & Health", "HMO", active=False, eff=date(2025, 1, 1), rid=2)],
                              fees=[], termination_reasons=[], assignment_required=False)
    assert r2024_old.lines[("TX", norm("Life & Health"))] == ("HMO",)
    assert ("TX", norm("Life & Health")) in r2024.lines
    rows = [{"id": 1, "k": "a", "effective_date": date(2024, 1, 1), "recorded_at": 1},
            {"id": 2, "k": "a", "effective_date": date(2025, 1, 1), "recorded_at": 2},
            {"id": 3, "k": "a", "effective_date": date(2027, 1, 1), "recorded_at": 3}]
    assert effective(rows, lambda r: r["k"], TODAY)["a"]["id"] == 2
