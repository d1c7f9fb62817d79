"""A policy's terms as stored (``policy_terms`` rows, and the current term's copy on the policy)
and as the premium rule sees them (``domain.premium.Term``)."""

from __future__ import annotations

from typing import Any

from intake.policies.domain.premium import Term

TERM_COLUMNS = {"effective_date": "start", "expiration_date": "end", "annualized_premium": "annualized",
                "billed_premium": "billed", "estimated_agency_commission": "estimated_commission",
                "billed_agency_commission": "billed_commission"}


def term_from_row(r: Any) -> Term:
    return Term(**{attr: r[col] for col, attr in TERM_COLUMNS.items()}, id=r["id"])


def term_values(t: Term) -> dict[str, Any]:
    return {col: getattr(t, attr) for col, attr in TERM_COLUMNS.items()}


def first_term_row(policy: dict[str, Any]) -> dict[str, Any]:
    """The term a new policy starts with: its own dates, nothing posted yet."""
    return {"policy_id": policy["id"], "effective_date": policy["effective_date"],
            "expiration_date": policy["expiration_date"], "annualized_premium": None, "billed_premium": None,
            "estimated_agency_commission": policy["estimated_agency_commission"], "billed_agency_commission": None}
