"""Request models of opening a reconciliation and editing its header; the response models of its
row, header and abort preview."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agency_common.validation import NonBlankStr
from pydantic import BaseModel, Field

from invoicing.responses import Out


class NewReconciliation(BaseModel):
    entity_type: str = Field(default="carrier", pattern="^carrier$")
    carrier: NonBlankStr = Field(min_length=1, max_length=200)
    subordinate_carrier: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    internal_note: str | None = Field(default=None, max_length=4000)
    statement_total: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)


class HeaderEdit(BaseModel):
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    internal_note: str | None = Field(default=None, max_length=4000)
    statement_total: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)
    version: int | None = None


# -- responses ------------------------------------------------------------------------------------
class ReconciliationOut(Out):
    """A ``reconciliation`` row (money as text, dates and times ISO)."""

    id: str
    number: int | None
    entity_type: str
    carrier: str
    subordinate_carrier: str | None
    name: str
    address: str | None
    date_booked: str
    description: str | None
    internal_note: str | None
    statement_id: str | None
    statement_date: str | None
    statement_file: str | None
    statement_line_count: int | None
    statement_chunk_count: int | None
    statement_total: str | None
    received_total: str
    status: str
    version: int
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    closed_at: str | None
    closed_by: str | None
    aborted_at: str | None
    aborted_by: str | None
    aborted_stage: str | None


class ReconciliationPage(Out):
    total: int
    items: list[ReconciliationOut]


class HeaderOut(ReconciliationOut):
    """The header every reconciliation answer carries: the row and its figures (``status.totals``)."""

    statement_total_source: str
    difference: str
    entry_count: int
    selected_count: int
    selected_commission: str
    unposted_count: int
    posted_count: int
    paid_count: int
    invoiced_commission: str
    exception_count: int
    carried_count: int
    carried_balance: str


class AbortPreviewOut(Out):
    count: int
    balance: str
    carrier: str
    sentence: str
