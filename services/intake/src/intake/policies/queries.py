"""Reads of the book of business shared by the API and the pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from intake.models import (
    Policy,
    PolicyTerm,
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
