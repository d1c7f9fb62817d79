"""Request models of the invoice lists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


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
