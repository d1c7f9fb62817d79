"""The termination rules: one termination request → a transaction, a manual task, or a refusal in words."""

from __future__ import annotations

from dataclasses import dataclass

from appointments.domain import vocabulary as v
from appointments.domain.reference import RefData
from appointments.domain.requests import Evaluated, Existing, Known, TerminateRequest, identity


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
