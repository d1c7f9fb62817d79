"""How a posted invoice changes a policy's annualized and billed premium (seed 003), written once.

- audit, endorsement: the premium paid is added to annualized and billed;
- cancellation: added to billed only (annualized unchanged);
- installment: added to annualized and billed of the policy term its effective date falls in
  (seed: "add to annualized and billed during the policy term as determined by the transaction
  effective date"); other terms are untouched;
- term policy: replaces annualized and billed for its term (previous totals of that term dropped).

Totals are kept per policy term. The term of a posting is the stored term containing its effective
date; else, for a term-policy posting with both dates, that period; else the policy's term shifted
by whole years to contain the date; else the policy's own term (or an undated term).
The policy shows the totals of its current term (the latest one)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from agency_common.money import round_money

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class TermTotals:
    start: date | None
    end: date | None
    annualized: Decimal = ZERO
    billed: Decimal = ZERO

    def contains(self, day: date) -> bool:
        return self.start is not None and self.end is not None and self.start <= day < self.end


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def term_for(terms: tuple[TermTotals, ...], effective: date | None, posting_end: date | None, bill_type: str,
             policy_start: date | None, policy_end: date | None) -> tuple[date | None, date | None]:
    if effective is not None:
        for t in terms:
            if t.contains(effective):
                return t.start, t.end
        if bill_type == "term_policy" and posting_end is not None and posting_end > effective:
            return effective, posting_end
        if policy_start is not None and policy_end is not None and policy_end > policy_start:
            years = effective.year - policy_start.year
            for shift in (years - 1, years, years + 1):
                start, end = _shift_years(policy_start, shift), _shift_years(policy_end, shift)
                if start <= effective < end:
                    return start, end
    if policy_start is not None or policy_end is not None:
        return policy_start, policy_end
    if terms:
        latest = current_term(terms)
        return latest.start, latest.end
    return None, None


def apply_posting(terms: tuple[TermTotals, ...], bill_type: str, premium: Decimal, *,
                  effective_date: date | None = None, expiration_date: date | None = None,
                  policy_start: date | None = None, policy_end: date | None = None) -> tuple[TermTotals, ...]:
    """The policy's per-term totals after one posted invoice."""
    amount = round_money(premium)
    start, end = term_for(terms, effective_date, expiration_date, bill_type, policy_start, policy_end)
    existing = next((t for t in terms if (t.start, t.end) == (start, end)), None)
    term = existing or TermTotals(start, end)
    if bill_type in ("audit", "endorsement", "installment"):
        term = replace(term, annualized=term.annualized + amount, billed=term.billed + amount)
    elif bill_type == "cancellation":
        term = replace(term, billed=term.billed + amount)
    elif bill_type == "term_policy":
        term = replace(term, annualized=amount, billed=amount)
    else:
        raise ValueError(f"unknown bill type {bill_type!r}")
    others = tuple(t for t in terms if t is not existing)
    return tuple(sorted((*others, term), key=lambda t: (t.start or date.min, t.end or date.min)))


def current_term(terms: tuple[TermTotals, ...]) -> TermTotals:
    return max(terms, key=lambda t: (t.start or date.min, t.end or date.min))


def policy_totals(terms: tuple[TermTotals, ...]) -> tuple[Decimal | None, Decimal | None]:
    if not terms:
        return None, None
    t = current_term(terms)
    return t.annualized, t.billed
