"""The bulk-appoint eligibility engine: pure functions over preloaded, indexed reference data.

``RefData`` is built once per bulk call from the effective rows of the reference tables (dict
look-ups only, no query per line); ``evaluate`` turns one request and one producer into either a
request-level rejection or one transaction per active line of the requested LOA category in each
requested state and CoCode, each with the seed's status and eligibility reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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


@dataclass(frozen=True)
class TerminateRequest:
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    termination_reason_code: str | None = None  # blank: the state's default code
    for_cause: bool = False


@dataclass(frozen=True)
class Existing:
    """A transaction already on record, as a new request is compared with it."""

    id: str
    status: str
    batch_id: str | None
    eligibility_reason: str | None = None


# identity (kind, npn, state, normalised line, cocode) → the transactions on record with it
Known = dict[tuple[str, ...], list[Existing]]


@dataclass
class Evaluated:
    npn: str
    state: str
    line_of_authority: str
    loa_category: str | None
    cocode: str
    company_name: str | None
    status: str
    eligibility_reason: str | None
    billable: bool
    jit: bool
    fee: Decimal | None
    license_number: str | None
    auto_submit: bool
    kind: str = "appointment"
    termination_reason_code: str | None = None
    for_cause: bool = False
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.npn, self.state, norm(self.line_of_authority), self.cocode)


@dataclass
class Refusal:
    state: str | None
    cocode: str | None
    reason: str
    line_of_authority: str | None = None
    matches: tuple[Existing, ...] = ()  # the transactions on record it is identical to


@dataclass
class RequestResult:
    npn: str
    rejection_reason: str | None = None
    refusals: list[Refusal] = field(default_factory=list)
    transactions: list[Evaluated] = field(default_factory=list)
    released: list[Existing] = field(default_factory=list)  # held ones this request sends

    @property
    def identical(self) -> bool:
        """Nothing created or released: every part matched transactions already on record."""
        return (not self.transactions and not self.released and bool(self.refusals)
                and all(r.matches for r in self.refusals))


def identity(kind: str, npn: str, state: str, line: str, cocode: str) -> tuple[str, str, str, str, str]:
    return (kind, npn, state, norm(line), cocode)


def identity_key(kind: str, npn: str, state: str, line: str, cocode: str, license_number: str | None = None) -> str:
    """The stored form of an identity; the database refuses two identical ones pending at NIPR."""
    return "|".join((kind, npn, state, norm(line), cocode, license_number or ""))


def _lines_for(request: AppointRequest, state: str, ref: RefData) -> tuple[str, list[tuple[str, str]], str | None]:
    """(category, [(category, line)] to create in one state). A line given instead of a category is
    recategorised to the category the state's business rules put it in. With no active line for it
    in the state, the list is empty and the third item is the line as asked (None for a category)."""
    wanted = norm(request.loa_category)
    if wanted in ref.categories:
        category = ref.categories[wanted]
        return category, [(category, line) for line in ref.lines.get((state, wanted), ())], None
    found = ref.line_index.get((state, wanted))
    if found is not None:
        return found[0], [found], None
    category = next((cat for (_st, line), (cat, _) in ref.line_index.items() if line == wanted), request.loa_category)
    return category, [], request.loa_category


def _no_line_reason(company: Company | None, category: str, state: str, line_asked: str | None) -> str:
    """Why nothing can be appointed where the business rules have no active line: company first."""
    if company is None:
        return v.COCODE_NOT_FOUND
    if norm(category) not in company.loa_categories:
        return v.COMPANY_NO_LOAS
    if line_asked is not None:
        return v.line_not_in_state(line_asked, state)
    return v.company_not_in_state(company.name, state)


def evaluate(request: AppointRequest, producer: Producer | None, ref: RefData, known: Known | None = None,
             appointed: set[tuple[str, ...]] | frozenset[tuple[str, ...]] = frozenset()) -> RequestResult:
    """One request → a rejection, or its transactions (eligible or not) and any refused parts.

    ``known`` holds the transactions already on record (open: Ready, JIT Held, Submitted; and Not
    Eligible ones nobody closed). A request matching them creates nothing and names them: an
    eligible line pending at NIPR or open here is refused, unless it is held and the request asks
    to send it (``submit`` for Ready, ``submitJustInTime`` for JIT Held), which releases it; a Not
    Eligible line already on record for the same reason is not recorded again. What this call
    creates or releases goes into ``known``, so a repeat inside one call is matched too.
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
    known = known if known is not None else {}
    as_of = ref.as_of
    resident_ok: bool | None = None
    for state in request.states:
        category, lines, line_asked = _lines_for(request, state, ref)
        licenses = producer.licenses.get(state, [])
        for cocode in request.cocodes:
            company = ref.companies.get(cocode)
            if ref.assignment_required and not ((norm(category), state, cocode) in producer.assignments
                                                or (norm(category), state, "") in producer.assignments):
                result.refusals.append(Refusal(state, cocode, v.OUTSIDE_ASSIGNMENT))
                continue
            if not lines:  # no gateway line in the state: recorded Not Eligible with its reason
                _not_eligible(result, known, Evaluated(
                    npn=request.npn, state=state, line_of_authority=line_asked or category, loa_category=category,
                    cocode=cocode, company_name=company.name if company else None, status=v.NOT_ELIGIBLE,
                    eligibility_reason=_no_line_reason(company, category, state, line_asked), billable=False,
                    jit=False, fee=None, license_number=None, auto_submit=False))
                continue
            setting = ref.state_settings.get((company.id, state)) if company else None
            for category, line in lines:
                nline = norm(line)
                reason, license_numbers = _check(company, setting, category, state, nline, licenses, producer,
                                                 as_of, resident_ok)
                if reason == v.NO_ACTIVE_RESIDENT or reason == v.IN_GOOD_STANDING:
                    resident_ok = reason == v.IN_GOOD_STANDING
                if reason != v.IN_GOOD_STANDING:
                    _not_eligible(result, known, Evaluated(
                        npn=request.npn, state=state, line_of_authority=line, loa_category=category, cocode=cocode,
                        company_name=company.name if company else None, status=v.NOT_ELIGIBLE,
                        eligibility_reason=reason, billable=False, jit=False, fee=None, license_number=None,
                        auto_submit=False))
                    continue
                key = ("appointment", request.npn, state, nline, cocode)
                if key in appointed:
                    result.refusals.append(Refusal(state, cocode, v.ALREADY_APPOINTED, line))
                    continue
                jit = bool(setting and setting.jit)
                auto = request.submit_jit if jit else request.submit
                if _matched_open(result, known, key, request, state, cocode, line):
                    continue
                for number in license_numbers or [None]:
                    t = Evaluated(
                        npn=request.npn, state=state, line_of_authority=line, loa_category=category, cocode=cocode,
                        company_name=company.name if company else None,
                        status=v.JIT_HELD if jit else v.READY, eligibility_reason=reason, billable=True, jit=jit,
                        fee=ref.fees.get(state, Decimal("0.00")), license_number=number, auto_submit=auto)
                    result.transactions.append(t)
                    known.setdefault(key, []).append(Existing(t.id, v.SUBMITTED if auto else t.status, None, reason))
    if not result.transactions and result.refusals and all(
            r.reason == v.OUTSIDE_ASSIGNMENT for r in result.refusals):
        result.rejection_reason = v.OUTSIDE_ASSIGNMENT
    return result


def _not_eligible(result: RequestResult, known: Known, t: Evaluated) -> None:
    """Record a Not Eligible line, unless the same one (same reason) is already on record."""
    same = tuple(e for e in known.get(t.identity, ()) if e.status == v.NOT_ELIGIBLE
                 and e.eligibility_reason == t.eligibility_reason)
    if same:
        result.refusals.append(Refusal(t.state, t.cocode, v.DUPLICATE_NOT_ELIGIBLE, t.line_of_authority, same))
        return
    result.transactions.append(t)
    known.setdefault(t.identity, []).append(Existing(t.id, t.status, None, t.eligibility_reason))


def _matched_open(result: RequestResult, known: Known, key: tuple[str, ...], request: AppointRequest, state: str,
                  cocode: str, line: str) -> bool:
    """An eligible line identical to open ones: refused with them, or the held ones released."""
    existing = known.get(key, [])
    pending = tuple(e for e in existing if e.status == v.SUBMITTED)
    held = tuple(e for e in existing if e.status in v.SENDABLE)
    if pending:
        result.refusals.append(Refusal(state, cocode, v.DUPLICATE_PENDING, line, pending))
        return True
    if not held:
        return False
    release = [e for e in held if (request.submit_jit if e.status == v.JIT_HELD else request.submit)]
    if release:
        result.released.extend(release)
        known[key] = [e for e in existing if e not in release] + [
            Existing(e.id, v.SUBMITTED, e.batch_id, e.eligibility_reason) for e in release]
    else:
        result.refusals.append(Refusal(state, cocode, v.DUPLICATE_OPEN, line, held))
    return True


@dataclass
class TerminationResult:
    request: TerminateRequest
    code: str | None = None  # the reason code used (the state's default when none was given)
    line_of_authority: str | None = None  # as the appointment records it
    transaction: Evaluated | None = None
    manual: str | None = None  # instructions: filed by hand, not through the Gateway
    refusal: str | None = None
    matches: tuple[Existing, ...] = ()


def evaluate_termination(request: TerminateRequest, ref: RefData, appointed: dict[tuple[str, ...], str],
                         known: Known, open_tasks: set[tuple[str, ...]]) -> TerminationResult:
    """One termination → a Ready termination transaction, a manual task (for cause, in a state that
    refuses it electronically), or a refusal in words. ``appointed`` maps the identities of Appointed
    appointments to their line as recorded; ``known`` and ``open_tasks`` hold the terminations
    already open, and get this one added."""
    r, st = request, request.state
    out = TerminationResult(request)
    code = (r.termination_reason_code or "").strip().upper() or ref.default_termination.get(st)
    if not code:
        out.refusal = f"no Termination Reason Code given and no default code for State: {st}"
        return out
    if code not in ref.termination_codes.get(st, {}):
        out.refusal = f"Termination Reason Code {code} is not accepted in State: {st}"
        return out
    out.code = code
    if r.cocode not in ref.companies:
        out.refusal = f"CoCode {r.cocode} is not a known CoCode"
        return out
    line = appointed.get(identity("appointment", r.npn, st, r.line_of_authority, r.cocode))
    if line is None:
        out.refusal = f"no Appointed appointment for NPN {r.npn}, State: {st}, {r.line_of_authority}, CoCode {r.cocode}"
        return out
    out.line_of_authority = line
    key = identity("termination", r.npn, st, line, r.cocode)
    out.matches = tuple(e for e in known.get(key, ()) if e.status in v.OPEN_STATUSES)
    if out.matches or key in open_tasks:
        out.refusal = v.termination_already_open(r.npn, st, line, r.cocode)
        return out
    if r.for_cause and st in ref.for_cause_manual:
        out.manual = ref.for_cause_manual[st]
        open_tasks.add(key)
        return out
    t = Evaluated(npn=r.npn, state=st, line_of_authority=line, loa_category=None, cocode=r.cocode,
                  company_name=ref.companies[r.cocode].name, status=v.READY, eligibility_reason=None, billable=True,
                  jit=False, fee=None, license_number=None, auto_submit=False, kind="termination",
                  termination_reason_code=code, for_cause=r.for_cause)
    out.transaction = t
    known.setdefault(key, []).append(Existing(t.id, t.status, None))
    return out


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
