"""Request models of the invoice lists; the response models of an invoice and its list."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from invoicing.responses import Out


class InvoiceFilters(BaseModel):
    business_type: str | None = None
    line_of_business: str | None = None
    bill_type: str | None = None
    branch: str | None = None
    department: str | None = None
    unit: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount_type: str | None = Field(default=None, pattern="^(premium|commission)$")
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    name: str | None = None
    policy_number: str | None = None
    item_id: str | None = None
    mode: str | None = None
    sort1: str | None = Field(default=None, pattern="^(date|item_id|bill_type|client|policy_number|line_of_business|premium|commission)$")
    order1: str = Field(default="asc", pattern="^(asc|desc)$")
    sort2: str | None = Field(default=None, pattern="^(date|item_id|bill_type|client|policy_number|line_of_business|premium|commission)$")
    order2: str = Field(default="asc", pattern="^(asc|desc)$")


# -- responses ------------------------------------------------------------------------------------
class CarriedFrom(Out):
    reconciliation_id: str
    reconciliation_number: int | None


class InvoiceOut(Out):
    """An invoice as ``queries.invoice_json`` writes it (money and rates as text)."""

    id: int
    item_id: str
    entry_id: int
    status: str
    date: str | None
    expiration_date: str | None
    bill_type: str
    client_name: str | None
    bill_to_name: str | None
    policy_id: str
    policy_number: str
    line_of_business: str | None
    premium: str
    rate_type: str
    rate: str | None
    rate_display: str
    commission: str
    people_commission_total: str
    people_percent_of_agency: str | None
    paid_to_date: str
    balance: str
    selected: bool
    received: str | None
    new_balance: str
    posted_at: str | None
    posted_by: str | None
    carried_to: str | None
    carried_from: CarriedFrom | None


class InvoicePage(Out):
    total: int
    limit: int
    offset: int
    items: list[InvoiceOut]
