"""What Create Policies makes of the unmatched statement lines sharing a policy number (seed 000):
the client (a person or an organisation; a formula-looking or missing name refused with its
reason), the status the transaction codes imply, the term, and the estimated premium and agency
commission (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from intake.domain.insured import Insured, classify_insured, formula_reason
from intake.policies.domain.premium import estimated_commission
from intake.statements.domain.mapping import status_for_code

RATE_PLACES = Decimal("0.000001")  # what a Rate column keeps


@dataclass(frozen=True)
class PolicyPlan:
    refused: str | None  # why no policy is made of these lines (they stay unmatched)
    insured: Insured | None = None
    status: str = "active"
    status_source: str = "default"
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = None
    commission_rate: Decimal | None = None
    estimated_commission: Decimal | None = None


def _line_rate(line: Mapping[str, Any]) -> Decimal | None:
    """The line's rate, or its commission over its premium (a statement giving only amounts)."""
    if line.get("commission_rate") is not None:
        return line["commission_rate"]
    premium, commission = line.get("premium"), line.get("commission_amount")
    if premium and commission is not None:
        rate = (commission / premium).quantize(RATE_PLACES)
        if 0 <= rate <= 1:
            return rate.normalize()
    return None


def plan_policy(lines: Sequence[Mapping[str, Any]], *, client_name: str | None = None, status: str | None = None,
                default_status: str | None = None, default_rate: Decimal | None = None) -> PolicyPlan:
    """``lines`` in line order; ``client_name`` and ``status``: the operator's overrides for them;
    ``default_status`` fills policies whose lines carry no transaction code; ``default_rate``: the
    carrier's, for lines that say nothing of the commission."""
    name = client_name if client_name and client_name.strip() else (lines[0].get("insured_name") or "")
    if not name.strip():
        return PolicyPlan(refused="no insured name: give the line a client name override")
    refused = formula_reason(name)
    if refused:
        return PolicyPlan(refused=refused)
    # the term line (new business, renewal) gives the premium and the term, not a cancellation's return
    basis = (next((x for x in lines if x.get("bill_type") == "term_policy"), None)
             or next((x for x in lines if x.get("bill_type") != "cancellation"), None))
    dated = basis or lines[0]
    rate = _line_rate(basis or lines[0])
    if rate is None:
        rate = default_rate
    premium = basis.get("premium") if basis else None
    if status:
        source = "override"
    else:
        coded = [x for x in lines if status_for_code(x.get("transaction_type"), x.get("bill_type"))]
        latest = max(coded, key=lambda x: (x.get("effective_date") or date.min, x["line_no"]), default=None)
        if latest is not None:
            status = status_for_code(latest["transaction_type"], latest.get("bill_type"))
            source = f"transaction code {latest['transaction_type'].strip().upper()}"
        else:
            status, source = default_status or "active", "default"
    return PolicyPlan(refused=None, insured=classify_insured(name), status=status or "active", status_source=source,
                      effective_date=dated.get("effective_date"), expiration_date=dated.get("expiration_date"),
                      estimated_premium=premium, commission_rate=rate,
                      estimated_commission=estimated_commission(premium, rate))
