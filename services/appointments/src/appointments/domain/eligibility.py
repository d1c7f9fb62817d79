"""The bulk-appoint eligibility engine: pure functions over preloaded, indexed reference data.

``RefData`` is built once per bulk call from the effective rows of the reference tables (dict
look-ups only, no query per line); ``evaluate`` turns one request and one producer into either a
request-level rejection or one transaction per active line of the requested LOA category in each
requested state and CoCode, each with the seed's status and eligibility reason.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSet
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from appointments.domain import vocabulary as v


@lru_cache(maxsize=8192)
def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


# -- effective-dated reference rows -------------------------------------------------------------------
R = TypeVar("R")


def effective(rows: Iterable[R], key: Any, as_of: date) -> dict[Any, R]:
    """For each key, the row in force on ``as_of``: the latest ``effective_date`` not after it (and
    among equal dates, the one recorded last). A rule change is a new row, never an edit."""
    best: dict[Any, tuple[tuple[Any, ...], R]] = {}
    for row in rows:
        eff = _get(row, "effective_date")
        if eff > as_of:
            continue
        rank = (eff, _get(row, "recorded_at"), _get(row, "id"))
        k = key(row)
        current = best.get(k)
        if current is None or rank > current[0]:
            best[k] = (rank, row)
    return {k: r for k, (_, r) in best.items()}


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


# -- reference data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Company:
    id: str
    name: str
    loa_categories: frozenset[str]  # normalised


@dataclass(frozen=True)
class StateSetting:
    appoints: bool
    jit: bool


@dataclass
class RefData:
    """The reference data in force on one day, indexed for the engine."""

    as_of: date
    companies: dict[str, Company] = field(default_factory=dict)  # by CoCode
    state_settings: dict[tuple[str, str], StateSetting] = field(default_factory=dict)  # (company id, state)
    lines: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (state, norm category) → lines
    line_index: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (state, norm line) → (category, line)
    categories: dict[str, str] = field(default_factory=dict)  # norm → display name
    known_lines: set[str] = field(default_factory=set)  # normalised line names in any state
    fees: dict[str, Decimal] = field(default_factory=dict)
    termination_codes: dict[str, dict[str, str]] = field(default_factory=dict)  # state → code → description
    default_termination: dict[str, str] = field(default_factory=dict)
    # states that refuse for-cause terminations electronically → what to do instead
    for_cause_manual: dict[str, str] = field(default_factory=dict)
    assignment_required: bool = False

    @classmethod
    def build(cls, as_of: date, *, companies: Iterable[Any], cocodes: Iterable[Any], state_settings: Iterable[Any],
              business_rules: Iterable[Any], fees: Iterable[Any], termination_reasons: Iterable[Any],
              assignment_required: bool, filing_rules: Iterable[Any] = ()) -> RefData:
        ref = cls(as_of=as_of, assignment_required=assignment_required)
        by_id = {}
        for c in companies:
            cats = frozenset(norm(x) for x in (_get(c, "loa_categories") or "").split(";") if x.strip())
            by_id[_get(c, "id")] = Company(_get(c, "id"), _get(c, "name"), cats)
        for cc in cocodes:
            company = by_id.get(_get(cc, "company_id"))
            if company is not None:
                ref.companies[_get(cc, "cocode")] = company
        for (company_id, state), s in effective(
                state_settings, lambda r: (_get(r, "company_id"), _get(r, "state")), as_of).items():
            if _get(s, "appoints"):
                ref.state_settings[(company_id, state)] = StateSetting(True, bool(_get(s, "jit")))
        lines: dict[tuple[str, str], list[str]] = {}
        for (state, _cat, _line), r in (effective(
                business_rules, lambda r: (_get(r, "state"), norm(_get(r, "loa_category")),
                                           norm(_get(r, "line_of_authority"))), as_of).items()):
            if not _get(r, "active"):
                continue
            cat, line = _get(r, "loa_category"), _get(r, "line_of_authority")
            ref.categories.setdefault(norm(cat), cat)
            lines.setdefault((state, norm(cat)), []).append(line)
            ref.line_index[(state, norm(line))] = (cat, line)
            ref.known_lines.add(norm(line))
        ref.lines = {k: tuple(vs) for k, vs in lines.items()}
        ref.fees = {state: _get(r, "appointment_fee") for state, r in
                    effective(fees, lambda r: _get(r, "state"), as_of).items()}
        for (state, code), r in effective(termination_reasons, lambda r: (_get(r, "state"), _get(r, "code")),
                                          as_of).items():
            if _get(r, "accepted"):
                ref.termination_codes.setdefault(state, {})[code] = _get(r, "description")
                if _get(r, "is_default"):
                    ref.default_termination[state] = code
        for state, r in effective(filing_rules, lambda r: _get(r, "state"), as_of).items():
            if not _get(r, "for_cause_electronic"):
                ref.for_cause_manual[state] = (_get(r, "instructions")
                                               or f"{state} does not accept for-cause terminations electronically: "
                                                  "file it in writing with the state's insurance department")
        return ref


# -- the producer as the engine sees it ----------------------------------------------------------------
@dataclass(frozen=True)
class License:
    state: str
    license_number: str
    license_class: str
    lines_of_authority: frozenset[str]  # normalised
    active: bool
    resident: bool
    expiration_date: date | None = None

    def in_force(self, as_of: date) -> bool:
        return self.active and (self.expiration_date is None or self.expiration_date >= as_of)


@dataclass
class Producer:
    npn: str
    synced: bool
    active: bool
    licenses: dict[str, list[License]] = field(default_factory=dict)  # by state
    assignments: set[tuple[str, str, str]] = field(default_factory=set)  # (norm category, state, cocode or "")

    def resident_license_in_force(self, as_of: date) -> bool:
        return any(lic.resident and lic.in_force(as_of) for ls in self.licenses.values() for lic in ls)


# -- requests and results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AppointRequest:
    npn: str
    states: tuple[str, ...]
    loa_category: str
    cocodes: tuple[str, ...]
    submit: bool = False
    submit_jit: bool = False


@dataclass
class Evaluated:
    npn: str
    state: str
    line_of_authority: str
    loa_category: str
    cocode: str
    company_name: str | None
    status: str
    eligibility_reason: str
    billable: bool
    jit: bool
    fee: Decimal | None
    license_number: str | None
    auto_submit: bool

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        return ("appointment", self.npn, self.state, norm(self.line_of_authority), self.cocode)


@dataclass
class Refusal:
    state: str | None
    cocode: str | None
    reason: str
    line_of_authority: str | None = None


@dataclass
class RequestResult:
    npn: str
    rejection_reason: str | None = None
    refusals: list[Refusal] = field(default_factory=list)
    transactions: list[Evaluated] = field(default_factory=list)


def identity(kind: str, npn: str, state: str, line: str, cocode: str) -> tuple[str, str, str, str, str]:
    return (kind, npn, state, norm(line), cocode)


def identity_key(kind: str, npn: str, state: str, line: str, cocode: str, license_number: str | None = None) -> str:
    """The stored form of an identity; the database refuses two identical ones pending at NIPR."""
    return "|".join((kind, npn, state, norm(line), cocode, license_number or ""))


def _lines_for(request: AppointRequest, state: str, ref: RefData) -> tuple[list[tuple[str, str]], str | None]:
    """[(category, line)] to create for one state, or a refusal reason. A line given instead of a
    category is recategorised to the category the state's business rules put it in."""
    wanted = norm(request.loa_category)
    if wanted in ref.categories:
        lines = ref.lines.get((state, wanted), ())
        if not lines:
            return [], v.no_active_lines(ref.categories[wanted], state)
        return [(ref.categories[wanted], line) for line in lines], None
    found = ref.line_index.get((state, wanted))
    if found is None:
        return [], v.line_not_in_state(request.loa_category, state)
    return [found], None


def evaluate(request: AppointRequest, producer: Producer | None, ref: RefData,
             open_identities: MutableSet[tuple[str, ...]] | dict[tuple[str, ...], str] | None = None,
             appointed: set[tuple[str, ...]] | frozenset[tuple[str, ...]] = frozenset()) -> RequestResult:
    """One request → a rejection, or its transactions (eligible or not) and any refused parts.

    ``open_identities`` holds the (kind, npn, state, line, cocode) of eligible transactions already
    open (a set, or a dict to their status: Ready, JIT Held, Submitted); an eligible duplicate is
    refused, never created twice (pending at NIPR, or still open here), and each created eligible
    transaction is added to it so a repeat inside one call is refused too.
    """
    result = RequestResult(npn=request.npn)
    if producer is None:
        result.rejection_reason = v.NPN_NOT_FOUND
        return result
    if not producer.synced:
        result.rejection_reason = v.NPN_NOT_SYNCED
        return result
    if not producer.active:
        result.rejection_reason = v.NPN_NOT_ACTIVE
        return result
    wanted = norm(request.loa_category)
    if wanted not in ref.categories and wanted not in ref.known_lines:
        result.rejection_reason = v.unsupported_line(request.loa_category)
        return result
    open_ids = open_identities if open_identities is not None else set()
    as_of = ref.as_of
    resident_ok: bool | None = None
    for state in request.states:
        lines, refusal = _lines_for(request, state, ref)
        if refusal:
            result.refusals.append(Refusal(state, None, refusal))
            continue
        licenses = producer.licenses.get(state, [])
        for cocode in request.cocodes:
            company = ref.companies.get(cocode)
            if ref.assignment_required:
                category = norm(lines[0][0])
                if not ((category, state, cocode) in producer.assignments
                        or (category, state, "") in producer.assignments):
                    result.refusals.append(Refusal(state, cocode, v.OUTSIDE_ASSIGNMENT))
                    continue
            setting = ref.state_settings.get((company.id, state)) if company else None
            for category, line in lines:
                nline = norm(line)
                reason, license_numbers = _check(company, setting, category, state, nline, licenses, producer,
                                                 as_of, resident_ok)
                if reason == v.NO_ACTIVE_RESIDENT or reason == v.IN_GOOD_STANDING:
                    resident_ok = reason == v.IN_GOOD_STANDING
                eligible = reason == v.IN_GOOD_STANDING
                jit = bool(eligible and setting and setting.jit)
                key = ("appointment", request.npn, state, nline, cocode)
                auto = eligible and (request.submit_jit if jit else request.submit)
                if eligible:
                    if key in appointed:
                        result.refusals.append(Refusal(state, cocode, v.ALREADY_APPOINTED, line))
                        continue
                    if key in open_ids:
                        held = isinstance(open_ids, dict) and open_ids[key] in (v.READY, v.JIT_HELD)
                        result.refusals.append(Refusal(state, cocode, v.DUPLICATE_OPEN if held else v.DUPLICATE_PENDING,
                                                       line))
                        continue
                    if isinstance(open_ids, dict):
                        open_ids[key] = v.SUBMITTED if auto else (v.JIT_HELD if jit else v.READY)
                    else:
                        open_ids.add(key)
                for number in license_numbers or [None]:
                    result.transactions.append(Evaluated(
                        npn=request.npn, state=state, line_of_authority=line, loa_category=category, cocode=cocode,
                        company_name=company.name if company else None,
                        status=(v.JIT_HELD if jit else v.READY) if eligible else v.NOT_ELIGIBLE,
                        eligibility_reason=reason, billable=eligible, jit=jit,
                        fee=ref.fees.get(state, Decimal("0.00")) if eligible else None,
                        license_number=number,
                        auto_submit=auto,
                    ))
    if not result.transactions and result.refusals and all(
            r.reason == v.OUTSIDE_ASSIGNMENT for r in result.refusals):
        result.rejection_reason = v.OUTSIDE_ASSIGNMENT
    return result


def _check(company: Company | None, setting: StateSetting | None, category: str, state: str, line: str,
           licenses: list[License], producer: Producer, as_of: date,
           resident_ok: bool | None) -> tuple[str, list[str]]:
    """The dictionary's rules, company first (the seed's California example), then the license."""
    if company is None:
        return v.COCODE_NOT_FOUND, []
    if norm(category) not in company.loa_categories:
        return v.COMPANY_NO_LOAS, []
    if setting is None:
        return v.company_not_in_state(company.name, state), []
    if not licenses:
        return v.LICENSE_NOT_FOUND, []
    in_force = [lic for lic in licenses if lic.in_force(as_of)]
    holding = [lic for lic in in_force if line in lic.lines_of_authority]
    if not holding:
        if not in_force or any(line in lic.lines_of_authority for lic in licenses):
            return v.LICENSE_NOT_ACTIVE, []
        return v.LICENSE_NOT_FOUND, []
    if not any(lic.resident for lic in holding):
        ok = resident_ok if resident_ok is not None else producer.resident_license_in_force(as_of)
        if not ok:
            return v.NO_ACTIVE_RESIDENT, []
    # More than one eligible license in the state (e.g. two classes holding the line): one
    # Ready-to-Submit transaction per license.
    numbers = sorted({lic.license_number for lic in holding})
    return v.IN_GOOD_STANDING, numbers if len(numbers) > 1 else []
