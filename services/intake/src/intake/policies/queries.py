"""Reads of the book of business shared by the API and the pages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from agency_common.listing import Page, Sorting, page
from sqlalchemy import func, or_, select

from intake.models import (
    Policy,
    PolicyPosting,
    PolicyTerm,
    Statement,
    StatementLineRow,
)
from intake.policies.domain.premium import current_term
from intake.policies.schemas import PolicyFilter
from intake.policies.terms import term_from_row, term_values


def policy_conditions(f: PolicyFilter) -> list[Any]:
    p = Policy.__table__.c
    conds = [p.carrier == f.carrier]
    if f.session_id:
        conds.append(p.session_id == f.session_id)
    if f.line_of_business:
        conds.append(p.line_of_business == f.line_of_business)
    if f.status:
        conds.append(p.status == f.status)
    if f.policy_number:
        conds.append(p.policy_number.contains(f.policy_number, autoescape=True))
    if f.client_name:
        conds.append(func.lower(p.client_name).contains(f.client_name.lower(), autoescape=True))
    if f.effective_from:
        conds.append(p.effective_date >= f.effective_from)
    if f.effective_to:
        conds.append(p.effective_date <= f.effective_to)
    return conds


@dataclass(frozen=True)
class BookSearch:
    """The book of business's search: ``q`` finds a policy number or a client name containing it; the
    others narrow (dates inclusive). Empty values do not filter."""

    q: str = ""
    carrier: str = ""  # the canonical name (resolved from a typed name or alias by the caller)
    line_of_business: str = ""
    status: str = ""
    session_id: str = ""
    effective_from: date | None = None
    effective_to: date | None = None
    expiration_from: date | None = None
    expiration_to: date | None = None

    def query(self) -> dict[str, str]:
        """The filters as a page's links carry them."""
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(self).items() if v}


BOOK_SORTING = Sorting(
    columns={"policy_number": [Policy.policy_number], "client_name": [Policy.client_name],
             "carrier": [Policy.carrier, Policy.policy_number], "line_of_business": [Policy.line_of_business],
             "status": [Policy.status], "effective_date": [Policy.effective_date],
             "expiration_date": [Policy.expiration_date], "annualized_premium": [Policy.annualized_premium],
             "created_at": [Policy.created_at]},
    default="-created_at", unique=Policy.id)


def book_conditions(f: BookSearch) -> list[Any]:
    p = Policy.__table__.c
    conds: list[Any] = []
    if f.q.strip():
        text = f.q.strip()
        # any case on both databases (SQLite's LIKE ignores ASCII case, PostgreSQL's does not)
        conds.append(or_(func.lower(p.policy_number).contains(text.lower(), autoescape=True),
                         func.lower(p.client_name).contains(text.lower(), autoescape=True)))
    for column, value in ((p.carrier, f.carrier), (p.line_of_business, f.line_of_business), (p.status, f.status),
                          (p.session_id, f.session_id)):
        if value:
            conds.append(column == value)
    for column, low, high in ((p.effective_date, f.effective_from, f.effective_to),
                              (p.expiration_date, f.expiration_from, f.expiration_to)):
        if low:
            conds.append(column >= low)
        if high:
            conds.append(column <= high)
    return conds


async def search_book(session: Any, f: BookSearch, sort: str, offset: int, limit: int) -> Page:
    """One page of the book of business in ``sort`` order, and how many policies match."""
    return await page(session, select(Policy).where(*book_conditions(f)), BOOK_SORTING, sort, offset, limit,
                      f.query())


async def book_vocabulary(session: Any) -> dict[str, list[str]]:
    """The values the book holds for its pick lists (lines of business, statuses)."""
    p = Policy.__table__.c
    out = {}
    for name, column in (("lines_of_business", p.line_of_business), ("statuses", p.status)):
        rows = await session.execute(select(column).where(column.is_not(None)).distinct().order_by(column).limit(200))
        out[name] = [r[0] for r in rows]
    return out


async def policy_terms(session: Any, policy_id: str) -> list[dict[str, Any]]:
    """The policy's terms, oldest first, the current one marked."""
    pt = PolicyTerm.__table__
    terms = [term_from_row(r) for r in (await session.execute(select(pt).where(pt.c.policy_id == policy_id)))
             .mappings()]
    current = current_term(tuple(terms)) if terms else None
    out = []
    for t in sorted(terms, key=lambda t: (t.start or date.min, t.end or date.min)):
        values = {k: (v.isoformat() if isinstance(v, date) else None if v is None else str(v))
                  for k, v in term_values(t).items()}
        out.append(values | {"current": t is current})
    return out


LINES, STATEMENTS, POSTINGS = StatementLineRow.__table__, Statement.__table__, PolicyPosting.__table__

# a policy's statement lines (matched to it), newest statement first
LINE_SORTING = Sorting(
    # by statement as imported: lines are stored in line order, statements in import order, so the line's
    # own id is that order (and the policy index serves it)
    columns={"statement": [LINES.c.id],
             "carrier": [STATEMENTS.c.carrier], "line_no": [LINES.c.line_no],
             "effective_date": [LINES.c.effective_date], "premium": [LINES.c.premium],
             "commission": [LINES.c.commission_amount], "transaction": [LINES.c.transaction_type]},
    default="-statement", unique=LINES.c.id)

POSTING_SORTING = Sorting(
    columns={"posted_at": [POSTINGS.c.posted_at], "bill_type": [POSTINGS.c.bill_type],
             "effective_date": [POSTINGS.c.effective_date], "premium": [POSTINGS.c.premium],
             "commission": [POSTINGS.c.commission], "reconciliation": [POSTINGS.c.reconciliation_id]},
    default="-posted_at", unique=POSTINGS.c.id)


async def policy_lines(session: Any, policy_id: str, sort: str, offset: int, limit: int,
                       query: dict[str, str] | None = None) -> Page:
    """The statement lines matched to the policy (each with its statement), a page in ``sort`` order."""
    stmt = (select(LINES.c.id, LINES.c.statement_id, LINES.c.line_no, LINES.c.policy_number, LINES.c.insured_name,
                   LINES.c.transaction_type, LINES.c.bill_type, LINES.c.effective_date, LINES.c.premium,
                   LINES.c.commission_rate, LINES.c.commission_amount, LINES.c.match_status, LINES.c.match_reason,
                   LINES.c.valid, LINES.c.excluded, STATEMENTS.c.carrier, STATEMENTS.c.file_name,
                   STATEMENTS.c.statement_date, STATEMENTS.c.status.label("statement_status"),
                   STATEMENTS.c.created_at.label("imported_at"))
            .join(STATEMENTS, STATEMENTS.c.id == LINES.c.statement_id)
            .where(LINES.c.policy_id == policy_id))
    found = await page(session, stmt, LINE_SORTING, sort, offset, limit, query, scalars=False)
    found.items = [dict(r._mapping) for r in found.items]
    return found


async def policy_postings(session: Any, policy_id: str, sort: str, offset: int, limit: int,
                          query: dict[str, str] | None = None) -> Page:
    """The postings applied to the policy, a page in ``sort`` order."""
    stmt = select(POSTINGS).where(POSTINGS.c.policy_id == policy_id)
    found = await page(session, stmt, POSTING_SORTING, sort, offset, limit, query, scalars=False)
    found.items = [dict(r._mapping) for r in found.items]
    return found
