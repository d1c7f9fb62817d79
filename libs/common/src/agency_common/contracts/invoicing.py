"""Events invoicing owns: reconciliations and invoice postings."""

from __future__ import annotations

from datetime import date
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
