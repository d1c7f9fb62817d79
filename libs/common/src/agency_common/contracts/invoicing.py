"""Events invoicing owns: reconciliations and invoice postings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
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
