"""Explain-why, table-driven: for each Not Eligible cause the engine names the check that decided it
and the facts it read (company record, company state setting row, business rule row with their
effective dates and sources, the licenses), as data. Pure: no database, no broker."""

from __future__ import annotations

import json
from datetime import date

import pytest
from appointments.domain import vocabulary as v
from appointments.domain.eligibility import AppointRequest, License, Producer, RefData, Why, evaluate, norm

TODAY = date(2026, 11, 23)
Y24, Y25 = date(2024, 1, 1), date(2025, 1, 1)


def rule(rid, state, cat, line, active=True, eff=Y24):
    return {"id": rid, "state": state, "loa_category": cat, "line_of_authority": line, "active": active,
            "effective_date": eff, "recorded_at": eff, "source": f"rules {state} {eff.year}"}


def setting(sid, company, state, appoints=True, eff=Y24):
    return {"id": sid, "company_id": company, "state": state, "appoints": appoints, "jit": False,
            "effective_date": eff, "recorded_at": eff, "source": f"carrier letter {sid}"}


REF = RefData.build(
    TODAY,
    companies=[{"id": "summit", "name": "Summit Mutual Life", "loa_categories": "Life & Health;Miscellaneous"},
               {"id": "harbor", "name": "Harbor P&C", "loa_categories": "Property & Casualty"}],
    cocodes=[{"cocode": "60054", "company_id": "summit"}, {"cocode": "24341", "company_id": "harbor"}],
    state_settings=[setting(1, "summit", "CA"), setting(2, "summit", "TX"),
                    # Summit stopped appointing in NV from 2025: the later row decides
                    setting(3, "summit", "NV"), setting(4, "summit", "NV", appoints=False, eff=Y25),
                    setting(5, "harbor", "TX")],
    business_rules=[rule(10, "CA", "Life & Health", "Life"), rule(11, "TX", "Life & Health", "Life Agent"),
                    rule(12, "NY", "Life & Health", "Life"), rule(13, "NV", "Life & Health", "Life"),
                    rule(14, "TX", "Life & Health", "HMO"), rule(15, "TX", "Life & Health", "HMO", False, Y25),
                    rule(16, "GA", "Life & Health", "HMO"), rule(17, "CA", "Property & Casualty", "Property")],
    fees=[], termination_reasons=[], assignment_required=False)


def lic(state, lines, *, resident=False, active=True, expires=date(2030, 1, 1), number=None):
    return License(state, number or f"{state}-1", "Insurance Producer", frozenset(norm(x) for x in lines), active,
                   resident, expires, tuple(lines))


def producer(*licenses: License) -> Producer:
    p = Producer("1234567", synced=True, active=True)
    for item in licenses:
        p.licenses.setdefault(item.state, []).append(item)
    return p


RESIDENT_TX = lic("TX", ["Life Agent"], resident=True, number="TX-R")


def why_of(p: Producer, states=("CA",), category="Life & Health", cocodes=("60054",)) -> Why:
    result = evaluate(AppointRequest("1234567", tuple(states), category, tuple(cocodes)), p, REF)
    assert len(result.transactions) == 1, result
    t = result.transactions[0]
    assert t.status == v.NOT_ELIGIBLE and t.why is not None and t.why.reason == t.eligibility_reason
    json.dumps(t.why.to_json())  # storable as it is
    return t.why


def cited(row):
    return None if row is None else (row.table, row.id, row.effective_date, row.source)


def licenses(w: Why):
    return [(f.license_number, f.in_force, f.holds_line) for f in w.licenses]


# (cause, producer, request, reason, words in the rule, company state setting row, business rule row, licenses)
CASES = [
    ("no company for the CoCode", producer(RESIDENT_TX, lic("CA", ["Life"])), {"cocodes": ("99999",)},
     v.COCODE_NOT_FOUND, "no company on record has the CoCode 99999", None, None, []),
    ("the company record lacks the category", producer(RESIDENT_TX, lic("TX", ["Life Agent"])),
     {"states": ("TX",), "cocodes": ("24341",), "category": "Life Agent"},
     v.COMPANY_NO_LOAS, "Harbor P&C lists Property & Casualty, not Life & Health", None, None, []),
    ("no company state setting for the state", producer(RESIDENT_TX, lic("NY", ["Life"])), {"states": ("NY",)},
     v.company_not_in_state("Summit Mutual Life", "NY"),
     "no company state setting of Summit Mutual Life for NY is in force on 2026-11-23",
     None, ("business_rules", 12, Y24, "rules NY 2024"), []),
    ("a later company state setting stops appointing", producer(RESIDENT_TX, lic("NV", ["Life"])),
     {"states": ("NV",)}, v.company_not_in_state("Summit Mutual Life", "NV"),
     "says Summit Mutual Life does not appoint in NV",
     ("company_state_settings", 4, Y25, "carrier letter 4"), ("business_rules", 13, Y24, "rules NV 2024"), []),
    ("no license in the state", producer(RESIDENT_TX), {},
     v.LICENSE_NOT_FOUND, "the producer holds no license in CA",
     ("company_state_settings", 1, Y24, "carrier letter 1"), ("business_rules", 10, Y24, "rules CA 2024"), []),
    ("a license in the state without the line", producer(RESIDENT_TX, lic("CA", ["Property"], number="CA-9")), {},
     v.LICENSE_NOT_FOUND, "no license of the producer in CA holds Life",
     ("company_state_settings", 1, Y24, "carrier letter 1"), ("business_rules", 10, Y24, "rules CA 2024"),
     [("CA-9", True, False)]),
    ("the license holding the line expired", producer(RESIDENT_TX, lic("CA", ["Life"], expires=date(2026, 1, 1))), {},
     v.LICENSE_NOT_ACTIVE, "license in CA holding Life is not in force on 2026-11-23",
     ("company_state_settings", 1, Y24, "carrier letter 1"), ("business_rules", 10, Y24, "rules CA 2024"),
     [("CA-1", False, True)]),
    ("the license holding the line inactive", producer(RESIDENT_TX, lic("CA", ["Life"], active=False)), {},
     v.LICENSE_NOT_ACTIVE, "is not in force", ("company_state_settings", 1, Y24, "carrier letter 1"),
     ("business_rules", 10, Y24, "rules CA 2024"), [("CA-1", False, True)]),
    ("non-resident license, resident one expired",
     producer(lic("TX", ["Life Agent"], resident=True, expires=date(2025, 6, 1), number="TX-R"), lic("CA", ["Life"])),
     {}, v.NO_ACTIVE_RESIDENT, "no resident license of the producer is in force on 2026-11-23",
     ("company_state_settings", 1, Y24, "carrier letter 1"), ("business_rules", 10, Y24, "rules CA 2024"),
     [("CA-1", True, True), ("TX-R", False, False)]),
    ("a line retired in the state by a later business rule", producer(RESIDENT_TX), {"states": ("TX",), "category": "HMO"},
     v.line_not_in_state("HMO", "TX"), "no business rule in force in TX on 2026-11-23 makes HMO an active line",
     ("company_state_settings", 2, Y24, "carrier letter 2"), ("business_rules", 15, Y25, "rules TX 2025"), []),
    ("a category with no active line in the state", producer(RESIDENT_TX), {"states": ("TX",), "cocodes": ("24341",),
                                                                            "category": "Property & Casualty"},
     v.company_not_in_state("Harbor P&C", "TX"), "has an active line of the category Property & Casualty",
     ("company_state_settings", 5, Y24, "carrier letter 5"), None, []),
]


@pytest.mark.parametrize(("cause", "p", "ask", "reason", "words", "state_setting", "business_rule", "lics"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_not_eligible_cause_names_the_facts_that_decided_it(cause, p, ask, reason, words, state_setting,
                                                                 business_rule, lics) -> None:
    w = why_of(p, **ask)
    assert w.reason == reason
    assert words in w.rule
    assert (cited(w.state_setting), cited(w.business_rule)) == (state_setting, business_rule)
    assert licenses(w) == lics
    assert w.as_of == TODAY


def test_the_explanation_carries_the_company_and_line_and_reads_back_as_plain_json() -> None:
    w = why_of(producer(RESIDENT_TX, lic("CA", ["Property"], number="CA-9")))
    data = w.to_json()
    assert (data["company"], data["company_categories"], data["line_of_authority"], data["loa_category"]) == (
        "Summit Mutual Life", ["Life & Health", "Miscellaneous"], "Life", "Life & Health")
    assert data["state_setting"] == {"table": "company_state_settings", "id": 1, "effective_date": "2024-01-01",
                                     "source": "carrier letter 1", "says": "Summit Mutual Life appoints in CA"}
    assert data["licenses"][0]["lines_of_authority"] == ["Property"]  # as NIPR spelt it, not normalised
    assert data["as_of"] == "2026-11-23"


def test_an_eligible_line_has_no_explanation() -> None:
    result = evaluate(AppointRequest("1234567", ("CA",), "Life & Health", ("60054",)),
                      producer(RESIDENT_TX, lic("CA", ["Life"])), REF)
    assert [(t.status, t.why) for t in result.transactions] == [(v.READY, None)]


def test_a_duplicate_refused_at_submit_names_the_transaction_pending() -> None:
    from appointments.domain.eligibility import duplicate_pending

    w = duplicate_pending("CA", "60054", "Life", "Life & Health", TODAY, "abcdef12-0000")
    assert (w.reason, w.matches, w.state_setting, w.licenses) == (v.DUPLICATE_PENDING, ("abcdef12-0000",), None, ())
    assert "abcdef12" in w.rule and w.to_json()["matches"] == ["abcdef12-0000"]
