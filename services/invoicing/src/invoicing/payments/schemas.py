"""Request models of Transactions – direct bill; the response models of its list and edits."""

from __future__ import annotations

from pydantic import BaseModel, Field

from invoicing.invoices.schemas import InvoicePage
from invoicing.responses import Out


class TransactionEdit(BaseModel):
    invoice_id: int
    selected: bool
    received: str | None = None  # editable; selecting without a value fills it with the balance
    # what the operator saw: when given and no longer true, nothing is saved (409 with the rows now)
    seen_selected: bool | None = None
    seen_received: str | None = None  # "" for none
    seen_paid_to_date: str | None = None


class TransactionsSave(BaseModel):
    items: list[TransactionEdit] = Field(min_length=1, max_length=1000)


# -- responses ------------------------------------------------------------------------------------
class TransactionPage(InvoicePage):
    """Posted and paid invoices (the direct-bill transactions), with what Pay All Selected would pay."""

    selected_count: int
    selected_total: str


class ChangedOut(Out):
    changed: int
