"""Request models of the statement entry: filters, row edits, people commissions, duplicate confirmation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func

from invoicing.tables import PV, E

SORT_FIELDS: dict[str, Any] = {
    "client": lambda: func.coalesce(PV.c.client_name, E.c.client_name),
    "policy_number": lambda: E.c.policy_number,
    "line_of_business": lambda: func.coalesce(PV.c.line_of_business, E.c.line_of_business),
    "effective_date": lambda: E.c.effective_date,
    "expiration_date": lambda: E.c.expiration_date,
    "premium": lambda: E.c.premium_paid,
    "commission": lambda: E.c.commission_paid,
    "mode": lambda: PV.c.mode,
    "status": lambda: PV.c.status,
    "bill_type": lambda: E.c.bill_type,
    "selected_at": lambda: E.c.selected_at,
    "line_no": lambda: E.c.line_no,
}


class EntryFilters(BaseModel):
    """The statement-entry search filters and sorts of seed 003 (query parameters of the API)."""

    business_type: str | None = None
    line_of_business: str | None = None
    include_history: bool = False
    include_selected: bool = True
    branch: str | None = None
    department: str | None = None
    unit: str | None = None
    date_type: str | None = Field(default=None, pattern="^(coverage_effective|policy_effective)$")
    date_from: date | None = None
    date_to: date | None = None
    amount_type: str | None = Field(default=None, pattern="^(premium|commission)$")
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    name: str | None = None
    policy_number: str | None = None
    mode: str | None = None
    status: str | None = None
    client: str | None = None  # quick search: any text of the client name
    policy: str | None = None  # quick search: any part of the policy number
    sort1: str | None = Field(default=None, pattern="^(" + "|".join(SORT_FIELDS) + ")$")
    order1: str = Field(default="asc", pattern="^(asc|desc)$")
    sort2: str | None = Field(default=None, pattern="^(" + "|".join(SORT_FIELDS) + ")$")
    order2: str = Field(default="asc", pattern="^(asc|desc)$")


class EntryEdit(BaseModel):
    """One row of a bulk save: the fields given are the fields the operator changed."""

    id: int
    version: int | None = None  # required unless only (un)selecting
    effective_date: Any = None
    expiration_date: Any = None
    premium_paid: Any = None
    rate_type: Any = None
    rate: Any = None
    commission_paid: Any = None
    bill_type: Any = None
    selected: bool | None = None
    add_rows: int | None = Field(default=None, ge=0, le=100)
    # a row without a known policy (an unmatched statement line) is matched to one of the carrier's
    # policies by its number
    policy_number: str | None = Field(default=None, max_length=100)


class OtherCommissionIn(BaseModel):
    employee: str = Field(min_length=1, max_length=200)
    production_role: str | None = Field(default=None, max_length=50)
    production_credit: str | None = None
    rate_type: str | None = None
    rate: str | None = None
    commission_on: str | None = None  # comes from the policy: any other value is refused
    level_lob: str | None = None  # comes from the policy: any other value is refused


class PeopleDefaultIn(BaseModel):
    production_role: str = Field(min_length=1, max_length=50)
    rate_type: str = Field(pattern="^(percent|flat)$")
    rate: str
    credit_share: str | None = None


class DuplicateConfirmation(BaseModel):
    """Confirm rows flagged as already invoiced or paid elsewhere (they are then invoiced again):
    ``ids``, or every selected flagged row (``selection``); ``confirmed=False`` withdraws it."""

    ids: list[int] | None = Field(default=None, max_length=1000)
    selection: bool = False
    confirmed: bool = True


class EntriesSave(BaseModel):
    items: list[EntryEdit] = Field(min_length=1, max_length=1000)


class SelectBody(BaseModel):
    selected: bool = True
    ids: list[int] | None = Field(default=None, max_length=1000)
    all_matching: bool = False  # every row the query-string filters find
