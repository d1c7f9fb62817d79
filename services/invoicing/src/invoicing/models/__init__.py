"""invoicing's tables, one module per aggregate, all on one metadata (``base``) so migrations see
them together. Import them from here: ``from invoicing.models import Invoice``."""

from invoicing.models.base import InvoicingModel, messaging, metadata
from invoicing.models.invoices import Invoice, Payment
from invoicing.models.jobs import Job
from invoicing.models.policy_view import CarrierKey, CarrierView, PolicyView
from invoicing.models.reconciliations import IdempotentRequest, Reconciliation
from invoicing.models.statement_entry import (
    OtherCommission,
    PeopleCommissionDefault,
    ReconciliationException,
    StatementChunk,
    StatementEntry,
)

__all__ = [
    "CarrierKey",
    "CarrierView",
    "IdempotentRequest",
    "Invoice",
    "InvoicingModel",
    "Job",
    "OtherCommission",
    "Payment",
    "PeopleCommissionDefault",
    "PolicyView",
    "Reconciliation",
    "ReconciliationException",
    "StatementChunk",
    "StatementEntry",
    "messaging",
    "metadata",
]
