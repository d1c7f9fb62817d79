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

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from appointments.domain import vocabulary as v
from appointments.domain.reference import Company, RefData, RowRef, StateSetting, effective, norm
from appointments.domain.requests import (
    AppointRequest,
    Evaluated,
    Existing,
    Known,
    License,
    LicenseFact,
    Producer,
    Refusal,
    RequestResult,
    TerminateRequest,
    Why,
    identity,
    identity_key,
)
from appointments.domain.terminations import TerminationResult, evaluate_termination

__all__ = ["AppointRequest", "Company", "Decision", "Evaluated", "Existing", "Known", "License", "LicenseFact",
           "Producer", "RefData", "Refusal", "RequestResult", "RowRef", "StateSetting", "TerminateRequest",
           "TerminationResult", "Why", "check", "duplicate_pending", "effective", "evaluate", "evaluate_termination",
           "identity", "identity_key", "norm"]


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


def _no_line_reason(company: Company | None, category: str, state: str, line_asked: str | None, cocode: str,
                    ref: RefData) -> Why:
    """Why nothing can be appointed where the business rules have no active line: company first."""
    line = line_asked or category
    if company is None or norm(category) not in company.loa_categories:
        return _company_refusal(company, cocode, state, line, category, ref.as_of)
    base = {"as_of": ref.as_of, "state": state, "cocode": cocode, "line_of_authority": line, "loa_category": category,
            "company": company.name, "company_categories": company.loa_category_names,
            "state_setting": ref.setting_rows.get((company.id, state))}
    if line_asked is not None:
        return Why(v.line_not_in_state(line_asked, state),
                   f"no business rule in force in {state} on {ref.as_of} makes {line_asked} an active line",
                   business_rule=ref.rule_rows.get((state, norm(line_asked))), **base)
    retired = ref.category_rules.get((state, norm(category)), [])
    rule = f"no business rule in force in {state} on {ref.as_of} has an active line of the category {category}"
    if base["state_setting"] is None:
        rule += f", and no company state setting of {company.name} for {state} is in force"
    return Why(v.company_not_in_state(company.name, state), rule, business_rule=retired[0] if retired else None,
               **base)


def _company_refusal(company: Company | None, cocode: str, state: str, line: str, category: str, as_of: date) -> Why:
    """CoCode Not Found, or the company does not appoint for the category (its record decides)."""
    if company is None:
        return Why(v.COCODE_NOT_FOUND, f"no company on record has the CoCode {cocode}", as_of, state, cocode, line,
                   category)
    names = ", ".join(company.loa_category_names) or "no LOA category"
    return Why(v.COMPANY_NO_LOAS, f"the company record of {company.name} lists {names}, not {category}", as_of, state,
               cocode, line, category, company.name, company.loa_category_names)


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
                why = _no_line_reason(company, category, state, line_asked, cocode, ref)
                _not_eligible(result, known, Evaluated(
                    npn=request.npn, state=state, line_of_authority=line_asked or category, loa_category=category,
                    cocode=cocode, company_name=company.name if company else None, status=v.NOT_ELIGIBLE,
                    eligibility_reason=why.reason, billable=False, jit=False, fee=None, license_number=None,
                    auto_submit=False, why=why))
                continue
            setting = ref.state_settings.get((company.id, state)) if company else None
            for category, line in lines:
                nline = norm(line)
                decision = check(company, setting, category, state, line, licenses, producer, ref, cocode,
                                 resident_ok)
                reason, license_numbers = decision.reason, decision.license_numbers
                if reason == v.NO_ACTIVE_RESIDENT or reason == v.IN_GOOD_STANDING:
                    resident_ok = reason == v.IN_GOOD_STANDING
                if decision.why is not None:
                    _not_eligible(result, known, Evaluated(
                        npn=request.npn, state=state, line_of_authority=line, loa_category=category, cocode=cocode,
                        company_name=company.name if company else None, status=v.NOT_ELIGIBLE,
                        eligibility_reason=reason, billable=False, jit=False, fee=None, license_number=None,
                        auto_submit=False, why=decision.why))
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



def duplicate_pending(state: str, cocode: str, line: str, category: str | None, as_of: date,
                      pending_id: str) -> Why:
    """A held transaction submitted while an identical one is pending at NIPR: Not Eligible, naming it."""
    return Why(v.DUPLICATE_PENDING, f"an identical transaction ({pending_id[:8]}) was already pending at NIPR when "
                                    "this one was submitted: NIPR is never asked (nor paid) twice",
               as_of, state, cocode, line, category, matches=(pending_id,))


@dataclass(frozen=True)
class Decision:
    """One line judged: its eligibility reason, the licenses to appoint on (more than one: one transaction
    each), and for a Not Eligible line the facts that decided it."""

    reason: str
    license_numbers: list[str]
    why: Why | None = None


def check(company: Company | None, setting: StateSetting | None, category: str, state: str, line: str,
          licenses: list[License], producer: Producer, ref: RefData, cocode: str = "",
          resident_ok: bool | None = None) -> Decision:
    """The dictionary's rules for one line, company first (the seed's California example), then the
    license. ``resident_ok`` is what an earlier line found about the resident license (None: look)."""
    as_of, nline = ref.as_of, norm(line)
    if company is None or norm(category) not in company.loa_categories:
        why = _company_refusal(company, cocode, state, line, category, as_of)
        return Decision(why.reason, [], why)
    base = {"as_of": as_of, "state": state, "cocode": cocode, "line_of_authority": line, "loa_category": category,
            "company": company.name, "company_categories": company.loa_category_names,
            "state_setting": ref.setting_rows.get((company.id, state)),
            "business_rule": ref.rule_rows.get((state, nline))}
    if setting is None:
        cited = base["state_setting"]
        rule = (f"the company state setting in force on {as_of} says {company.name} does not appoint in {state}"
                if cited is not None else f"no company state setting of {company.name} for {state} is in force on {as_of}")
        return Decision(v.company_not_in_state(company.name, state), [],
                        Why(v.company_not_in_state(company.name, state), rule, **base))
    if not licenses:
        return Decision(v.LICENSE_NOT_FOUND, [], Why(v.LICENSE_NOT_FOUND, f"the producer holds no license in {state}",
                                                     **base))
    in_force = [lic for lic in licenses if lic.in_force(as_of)]
    holding = [lic for lic in in_force if nline in lic.lines_of_authority]
    if not holding:
        facts = tuple(lic.fact(nline, as_of) for lic in licenses)
        if not in_force or any(nline in lic.lines_of_authority for lic in licenses):
            rule = (f"the producer's license in {state} holding {line} is not in force on {as_of} (inactive or expired)"
                    if any(nline in lic.lines_of_authority for lic in licenses)
                    else f"no license of the producer in {state} is in force on {as_of}")
            return Decision(v.LICENSE_NOT_ACTIVE, [], Why(v.LICENSE_NOT_ACTIVE, rule, licenses=facts, **base))
        return Decision(v.LICENSE_NOT_FOUND, [], Why(
            v.LICENSE_NOT_FOUND, f"no license of the producer in {state} holds {line}", licenses=facts, **base))
    if not any(lic.resident for lic in holding):
        ok = resident_ok if resident_ok is not None else producer.resident_license_in_force(as_of)
        if not ok:
            facts = tuple(lic.fact(nline, as_of) for lic in licenses)
            residents = tuple(lic.fact(nline, as_of) for ls in producer.licenses.values() for lic in ls
                              if lic.resident and lic.state != state)
            return Decision(v.NO_ACTIVE_RESIDENT, [], Why(
                v.NO_ACTIVE_RESIDENT, f"{line} is held on a non-resident license in {state}, and no resident "
                                      f"license of the producer is in force on {as_of}",
                licenses=facts + residents, **base))
    # More than one eligible license in the state (e.g. two classes holding the line): one
    # Ready-to-Submit transaction per license.
    numbers = sorted({lic.license_number for lic in holding})
    return Decision(v.IN_GOOD_STANDING, numbers if len(numbers) > 1 else [])
