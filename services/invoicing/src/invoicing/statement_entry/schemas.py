"""Request models of the statement entry: filters, row edits, people commissions, duplicate confirmation;
the response models of its rows and of each change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func

from invoicing.responses import Out
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


# -- responses ------------------------------------------------------------------------------------
class OtherCommissionOut(Out):
    """A row's people commission as ``queries.other_json`` writes it (money and rates as text)."""

    id: int
    entry_id: int
    employee: str
    production_role: str | None
    commission_on: str | None
    level_lob: str | None
    production_credit: str
    rate_type: str
    rate: str
    amount: str


class EntryExceptionOut(Out):
    """A row's open production-credit exception (``queries.exception_json``)."""

    entry_id: int
    reasons: list[str]
    messages: list[str]
    commission: str | None
    credit_total: str
    people_total: str
    status: str


class EarlierInvoiceOut(Out):
    """The invoice of another reconciliation a row is the same line as (``duplicates.earlier_invoices``)."""

    reconciliation_id: str
    reconciliation_number: int | None
    invoice_id: int
    item_id: str
    status: str
    paid_on: str | None
    message: str


class EntryOut(Out):
    """A statement-entry row as ``queries.entry_json`` writes it (money, rates, dates and times as text)."""

    id: int
    version: int
    line_no: int | None
    duplicate_of: int | None
    policy_id: str | None
    policy_number: str | None
    line_of_business: str | None
    client_name: str | None
    bill_to_name: str | None
    mode: str | None
    policy_status: str | None
    in_history: bool
    business_type: str | None
    transaction_type: str | None
    selected: bool
    selected_at: str | None
    selected_by: str | None
    effective_date: str | None
    expiration_date: str | None
    premium_paid: str | None
    rate_type: str | None
    rate: str | None
    rate_input: str
    commission_paid: str | None
    bill_type: str | None
    agency_commission_billed: str | None
    agency_commission_estimated: str | None
    other_commissions: list[OtherCommissionOut]
    people_commission_total: str
    invoice_id: int | None
    item_id: str | None
    invoice_status: str | None
    errors: dict[str, str]
    exception: EntryExceptionOut | None
    duplicate: EarlierInvoiceOut | None
    duplicate_confirmed_at: str | None
    duplicate_confirmed_by: str | None
    duplicate_excluded: bool


class EntryPage(Out):
    total: int
    limit: int
    offset: int
    items: list[EntryOut]


class SavedEntryOut(Out):
    """A saved row's own values (``usecases._saved_json``)."""

    id: int
    version: int
    selected: bool
    policy_id: str | None
    policy_number: str | None
    selected_at: str | None
    selected_by: str | None
    effective_date: str | None
    expiration_date: str | None
    premium_paid: str | None
    rate_type: str | None
    rate: str | None
    commission_paid: str | None
    bill_type: str | None


class EntriesSaved(Out):
    saved: list[SavedEntryOut]
    added_ids: list[int]
    replayed: bool = False  # the answer to an idempotency key already used (``locking.replay``)


class EntriesChanged(Out):
    changed: int


class DuplicatesConfirmed(Out):
    changed: int
    confirmed: bool


class AmountsReset(Out):
    reset: int


class PeopleDefaultOut(Out):
    """A ``people_commission_default`` row (rates as text, the time ISO)."""

    id: int
    carrier: str
    employee: str
    production_role: str
    rate_type: str
    rate: str
    credit_share: str | None
    updated_at: str
    updated_by: str
