"""The table aliases and constants the set-based SQL of every capability uses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agency_common.outbox import Transaction
from sqlalchemy import text

from invoicing.models import (
    Invoice,
    OtherCommission,
    Payment,
    PolicyView,
    Reconciliation,
    ReconciliationException,
    StatementEntry,
)

E = StatementEntry.__table__  # type: ignore[attr-defined]
PV = PolicyView.__table__  # type: ignore[attr-defined]
INV = Invoice.__table__  # type: ignore[attr-defined]
OC = OtherCommission.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
EXC = ReconciliationException.__table__  # type: ignore[attr-defined]
REC = Reconciliation.__table__  # type: ignore[attr-defined]
ZERO = Decimal("0.00")
EVENT_CHUNK = 1000
FINAL = ("aborted", "closed")


ANALYZE_AFTER = 1000  # rows a bulk change must touch before the statistics are refreshed


async def analyze(tx: Transaction, *tables: Any) -> None:
    """Fresh planner statistics after a bulk change on PostgreSQL (autovacuum comes later: until
    then the planner believes a table just filled with 100,000 rows is empty, or, after Post, that
    no invoice is posted: it then reads the whole reconciliation through ``ix_invoice_rec_status``
    for each chunk of ids instead of the chunk's primary-key range)."""
    if tx.session.bind.dialect.name == "postgresql":
        for table in tables:
            await tx.session.execute(text(f"ANALYZE {table.name}"))
