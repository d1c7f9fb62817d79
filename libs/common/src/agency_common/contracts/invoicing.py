"""Events invoicing owns: reconciliations and invoice postings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agency_common.contracts import topics
from agency_common.contracts.envelope import BULK_CHUNK, EventPayload
from agency_common.contracts.registry import event

BillType = Literal["audit", "cancellation", "endorsement", "installment", "term_policy"]


@event
class InvoicePosted(EventPayload):
    """One posted invoice; intake applies it to the policy's annualized and billed premium."""

    topic = topics.INVOICING_POSTINGS
    event_type = "invoicing.invoice.posted"

    invoice_id: str
    reconciliation_id: str
    policy_id: str
    bill_type: BillType
    effective_date: date | None = None
    expiration_date: date | None = None
    premium: Decimal
    commission: Decimal

    def key(self) -> str:
        return self.policy_id


class PostedInvoice(BaseModel):
    """One invoice of an ``InvoicesPosted`` chunk."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    invoice_id: str
    policy_id: str
    bill_type: BillType
    effective_date: date | None = None
    expiration_date: date | None = None
    premium: Decimal
    commission: Decimal


@event
class InvoicesPosted(EventPayload):
    """A chunk of one reconciliation's invoices posted by Post All Selected: one event per chunk
    instead of one ``InvoicePosted`` per invoice. Keyed by the reconciliation."""

    topic = topics.INVOICING_POSTINGS
    event_type = "invoicing.invoices.posted"

    reconciliation_id: str
    invoices: list[PostedInvoice] = Field(min_length=1, max_length=BULK_CHUNK)

    def key(self) -> str:
        return self.reconciliation_id

    def entity_count(self) -> int:
        return len(self.invoices)


@event
class ReconciliationChanged(EventPayload):
    """A reconciliation's header after any change of status or totals."""

    topic = topics.INVOICING_RECONCILIATIONS
    event_type = "invoicing.reconciliation.changed"

    reconciliation_id: str
    carrier: str
    status: str  # open | invoiced | posted | paid | aborted
    statement_id: str | None = None
    statement_total: Decimal
    received_total: Decimal
    difference: Decimal
    entry_count: int
    exception_count: int = 0
    changed_by: str
    changed_at: datetime

    def key(self) -> str:
        return self.reconciliation_id


@event
class PaymentRecorded(EventPayload):
    """Received amounts applied to posted invoices (Pay All Selected)."""

    topic = topics.INVOICING_POSTINGS
    event_type = "invoicing.payment.recorded"

    reconciliation_id: str
    invoice_ids: list[str]
    received_total: Decimal
    paid_by: str
    paid_at: datetime

    def key(self) -> str:
        return self.reconciliation_id
