"""What a post emits (issue 17): a bulk post one InvoicesPosted per chunk of at most BULK_CHUNK invoices,
keyed by the reconciliation, every invoice once and in order; a single post its InvoicePosted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.invoicing import InvoicePosted, InvoicesPosted
from invoicing.invoices.usecases import _posted_events


def rows(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=i, reconciliation_id="R-1", policy_id=f"P-{i % 7}", bill_type="installment",
                            effective_date=date(2026, 1, 1), expiration_date=None, premium=Decimal("10.00"),
                            commission=Decimal("1.00")) for i in range(1, n + 1)]


def test_a_bulk_post_is_one_event_per_chunk() -> None:
    events = _posted_events("R-1", rows(2 * BULK_CHUNK + 1), single=False)
    assert all(isinstance(e, InvoicesPosted) for e in events)
    assert [e.entity_count() for e in events] == [BULK_CHUNK, BULK_CHUNK, 1]
    assert {e.key() for e in events} == {"R-1"}
    assert [int(i.invoice_id) for e in events for i in e.invoices] == list(range(1, 2 * BULK_CHUNK + 2))
    (one,) = _posted_events("R-1", rows(1), single=False)  # Post All Selected finding one invoice: still bulk
    assert isinstance(one, InvoicesPosted) and one.entity_count() == 1


def test_a_single_post_keeps_its_single_event() -> None:
    (event,) = _posted_events("R-1", rows(1), single=True)
    assert isinstance(event, InvoicePosted) and event.invoice_id == "1" and event.key() == "P-1"
