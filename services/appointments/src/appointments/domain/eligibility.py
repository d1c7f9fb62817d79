"""The bulk-appoint eligibility engine: pure functions over preloaded, indexed reference data.

``RefData`` is built once per bulk call from the effective rows of the reference tables (dict
look-ups only, no query per line); ``evaluate`` turns one request and one producer into either a
request-level rejection or one transaction per active line of the requested LOA category in each
requested state and CoCode, each with the seed's status and eligibility reason.

The engine's parts by rule family: ``reference`` (effective dating, ``RefData``), ``requests`` (the
producer, requests, results, identities), ``terminations`` (``evaluate_termination``); this module holds
the appointment rules and names all of them, so ``eligibility.X`` reads as before.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from appointments.domain import vocabulary as v
from appointments.domain.reference import Company, RefData, StateSetting, effective, norm
from appointments.domain.requests import (
    AppointRequest,
    Evaluated,
    Existing,
    Known,
    License,
    Producer,
    Refusal,
    RequestResult,
    TerminateRequest,
    identity,
    identity_key,
)
from appointments.domain.terminations import TerminationResult, evaluate_termination

__all__ = ["AppointRequest", "Company", "Evaluated", "Existing", "Known", "License", "Producer", "RefData", "Refusal",
           "RequestResult", "StateSetting", "TerminateRequest", "TerminationResult", "effective", "evaluate",
           "evaluate_termination", "identity", "identity_key", "norm"]


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
