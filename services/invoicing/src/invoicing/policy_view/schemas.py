"""Response models of the read model: intake's policies as invoicing knows them, and the carriers a
reconciliation is opened against."""

from __future__ import annotations

from invoicing.responses import Out


class CarrierPick(Out):
    name: str
    subordinates: list[str]
    addresses: list[str]
    naic_code: str | None


class CarrierPickList(Out):
    total: int
    items: list[CarrierPick]


class PolicyOut(Out):
    """A ``policy_view`` row (money and rates as text, dates ISO)."""

    policy_id: str
    version: int
    carrier: str
    policy_number: str
    client_id: str | None
    client_name: str
    bill_to_name: str | None
    line_of_business: str | None
    business_type: str | None
    mode: str | None
    status: str | None
    in_history: bool
    effective_date: str | None
    expiration_date: str | None
    estimated_premium: str | None
    annualized_premium: str | None
    billed_premium: str | None
    commission_rate_type: str | None
    commission_rate: str | None
    estimated_agency_commission: str | None
    billed_agency_commission: str | None
    branch: str | None
    department: str | None
    unit: str | None
    servicing_agent: str | None
    updated_at: str


class PolicyPage(Out):
    total: int
    items: list[PolicyOut]
