"""The same statement line invoiced twice (issue 13, item 1): pure rules, no I/O.

A statement-entry row is *the same line* as an invoice of another reconciliation when they agree on
what identifies a carrier's commission line:

- the policy (its id in the book: the carrier is the policy's, and the policy number with it),
- the bill type (audit, cancellation, endorsement, installment, term policy),
- the transaction effective date (a later installment of the same policy has its own date),
- the premium paid and the commission paid, to the cent.

Client names, rates and line numbers are left out on purpose: a re-imported file with a corrected
name or a rate written as ``15%`` instead of ``0.15`` is still the same money. Such a row is flagged
("already paid in reconciliation N on D" / "already invoiced in reconciliation N") and left out of
Create Invoices and Create/Pay All until an operator with ``reconciliations:override_duplicate``
confirms it; rows of the same reconciliation ("add rows", alternate statement entry) are never
duplicates of each other. ``statement_entry.duplicates`` holds the SQL twin of ``same_line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ZERO = Decimal("0.00")
OVERRIDE_PERMISSION = "reconciliations:override_duplicate"


@dataclass(frozen=True)
class LineIdentity:
    policy_id: str | None
    bill_type: str | None
    effective_date: date | None
    premium: Decimal | None
    commission: Decimal | None

    def key(self) -> tuple[object, ...] | None:
        """None when the row cannot be invoiced at all (no policy or no date): nothing to compare."""
        if not self.policy_id or self.effective_date is None or self.commission is None:
            return None
        return (self.policy_id, self.bill_type, self.effective_date, self.premium or ZERO, self.commission)


def same_line(entry: LineIdentity, invoice: LineIdentity) -> bool:
    key = entry.key()
    return key is not None and key == invoice.key()


@dataclass(frozen=True)
class EarlierInvoice:
    """Where the same line went before: the reconciliation's number, the invoice and its state."""

    reconciliation_number: int | None
    item_id: int
    status: str  # unposted | posted | paid
    paid_on: date | None = None


def duplicate_message(earlier: EarlierInvoice) -> str:
    rec = f"reconciliation {earlier.reconciliation_number}" if earlier.reconciliation_number else "another reconciliation"
    if earlier.status == "paid":
        when = f" on {earlier.paid_on.isoformat()}" if earlier.paid_on else ""
        return f"already paid in {rec}{when} (item {earlier.item_id}(S))"
    return f"already invoiced in {rec} (item {earlier.item_id}(S))"


def excluded(flagged: bool, confirmed: bool) -> bool:
    """A flagged row stays out of Create Invoices and Create/Pay All until someone confirms it."""
    return flagged and not confirmed
