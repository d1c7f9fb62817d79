"""A policy's terms and how a posted invoice changes them (seed 003), written once.

A policy has terms (effective → expiration), each with its own annualized and billed premium and
its estimated and billed agency commission. The policy shows its current term: the latest one.

A posting applies to the term its effective date falls in:
- audit, endorsement, installment: the premium paid is added to annualized and billed ("Installment:
  add to annualized and billed during the policy term as determined by the transaction effective
  date"); the commission to billed commission;
- cancellation: the premium is added to billed only (annualized unchanged), the commission to
  billed commission;
- term policy: replaces annualized, billed and billed commission of its term.
A posting dated outside every term starts a term of its own (a renewal after the last one, a
prior term before the first): a term policy's own dates, else the nearest term moved by whole
terms (12 or 6 months) to hold the date; it never overwrites another term's totals. The estimated
commission of a term is its annualized premium (the policy's estimated premium until postings
give one) times the policy's commission rate."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from agency_common.money import round_money

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Term:
    start: date | None
    end: date | None
    annualized: Decimal | None = None
    billed: Decimal | None = None
    estimated_commission: Decimal | None = None
    billed_commission: Decimal | None = None
    id: int | None = None  # its stored row; None: new

    def contains(self, day: date) -> bool:
        """[start, end); a missing date leaves that side open (an undated term holds every date)."""
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


def estimated_commission(premium: Decimal | None, rate: Decimal | None) -> Decimal | None:
    """The agency commission a premium should bring at the policy's rate (seed 003's "Agency Comm:
    Estimated"), half-up to cents; None when either is unknown."""
    if premium is None or rate is None:
        return None
    return round_money(premium * rate)


def _add_months(day: date, months: int) -> date:
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _moved(anchor: Term, day: date) -> tuple[date, date]:
    """The anchor's term moved by whole terms (months for a 6- or 12-month term) to hold ``day``."""
    start, end = anchor.start, anchor.end
    assert start is not None and end is not None
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and _add_months(start, months) == end:
        steps = ((day.year - start.year) * 12 + day.month - start.month) // months
        for k in (steps - 1, steps, steps + 1):
            s, e = _add_months(start, k * months), _add_months(start, (k + 1) * months)
            if s <= day < e:
                return s, e
    length = end - start
    k = (day - start).days // length.days
    return start + k * length, start + (k + 1) * length


def _sort_key(t: Term) -> tuple[date, date]:
    return t.start or date.min, t.end or date.min


def current_term(terms: tuple[Term, ...]) -> Term:
    return max(terms, key=_sort_key)


def _new_span(terms: tuple[Term, ...], day: date, expiration: date | None, bill_type: str
              ) -> tuple[date | None, date | None]:
    """The dates of a new term holding ``day`` (no stored term does), clipped to its neighbours."""
    start: date | None
    end: date | None
    dated = [t for t in terms if t.start is not None and t.end is not None and t.end > t.start]
    if bill_type == "term_policy" and expiration is not None and expiration > day:
        start, end = day, expiration
    elif dated:
        start, end = _moved(min(dated, key=lambda t: abs((t.start - day).days)), day)  # type: ignore[operator]
    else:
        start, end = day, None
    before = [t.end for t in terms if t.end is not None and t.end <= day]
    after = [t.start for t in terms if t.start is not None and t.start > day]
    if before and start < max(before):
        start = max(before)
    if after and (end is None or end > min(after)):
        end = min(after)
    return start, end


def apply_posting(terms: tuple[Term, ...], bill_type: str, premium: Decimal, commission: Decimal = ZERO, *,
                  effective_date: date | None = None, expiration_date: date | None = None,
                  estimated_premium: Decimal | None = None, rate: Decimal | None = None) -> tuple[Term, ...]:
    """The policy's terms after one posted invoice (``estimated_premium`` and ``rate``: the policy's,
    for the estimated commission)."""
    if bill_type not in ("audit", "endorsement", "installment", "cancellation", "term_policy"):
        raise ValueError(f"unknown bill type {bill_type!r}")
    amount, paid = round_money(premium), round_money(commission)
    term: Term | None = None
    if terms:
        if effective_date is None:
            term = current_term(terms)
        else:
            holding = [t for t in terms if t.contains(effective_date)]
            term = max(holding, key=_sort_key) if holding else None
    if term is None:
        start, end = ((None, None) if effective_date is None
                      else _new_span(terms, effective_date, expiration_date, bill_type))
        term = Term(start, end)
    existing = term
    if (bill_type == "term_policy" and term.start is None and term.end is None and effective_date is not None
            and expiration_date is not None and expiration_date > effective_date):
        term = replace(term, start=effective_date, end=expiration_date)  # the carrier dates an undated term
    billed_commission = (term.billed_commission or ZERO) + paid
    if bill_type == "term_policy":
        term = replace(term, annualized=amount, billed=amount, billed_commission=paid)
    elif bill_type == "cancellation":
        term = replace(term, billed=(term.billed or ZERO) + amount, billed_commission=billed_commission)
    else:
        term = replace(term, annualized=(term.annualized or ZERO) + amount, billed=(term.billed or ZERO) + amount,
                       billed_commission=billed_commission)
    basis = term.annualized if term.annualized is not None else estimated_premium
    term = replace(term, estimated_commission=estimated_commission(basis, rate))
    others = tuple(t for t in terms if t is not existing)
    return tuple(sorted((*others, term), key=_sort_key))
