"""Posted invoices in both forms (issue 17): an InvoicesPosted chunk gives one ops invoice row per invoice,
like the single InvoicePosted, a redelivered invoice counts once in the view, and the events view counts
invoices, not messages."""

from __future__ import annotations

from decimal import Decimal

from agency_common.contracts.invoicing import InvoicePosted, InvoicesPosted, PostedInvoice

from tests.reporting.conftest import envelope, publish
from tests.support.inprocess import eventually


def invoice(n: int, bill_type: str, premium: str) -> PostedInvoice:
    return PostedInvoice(invoice_id=f"BI-{n}(S)", policy_id=f"P-{n}", bill_type=bill_type, premium=Decimal(premium),
                         commission=Decimal(premium) / 10)


async def test_a_chunk_of_posted_invoices_is_one_row_per_invoice(start_service, token_for, kafka) -> None:
    svc = await start_service("reporting", team_screens_interval_seconds=0)
    chunk = envelope(InvoicesPosted(reconciliation_id="R-B", invoices=[
        invoice(1, "audit", "10.00"), invoice(2, "audit", "20.00"), invoice(3, "endorsement", "5.00")]))
    single = envelope(InvoicePosted(invoice_id="BI-4(S)", reconciliation_id="R-B", policy_id="P-4",
                                    bill_type="audit", premium=Decimal("1.00"), commission=Decimal("0.10")))
    again = envelope(InvoicePosted(invoice_id="BI-1(S)", reconciliation_id="R-B", policy_id="P-1",
                                   bill_type="audit", premium=Decimal("10.00"), commission=Decimal("1.00")))
    await publish(kafka, [chunk, single, again, chunk])  # the chunk redelivered as well

    async with svc.as_user(token_for("clerk")) as client:
        async def counted() -> dict[str, int] | None:
            seen = {r["event_type"]: r["count"] for r in (await client.get("/api/operations/events")).json()
                    if r["event_type"].startswith("invoicing.invoice")}
            return seen if seen == {"invoicing.invoices.posted": 3, "invoicing.invoice.posted": 2} else None
        await eventually(counted, message="the chunk counted by invoice, once")
        sections = (await client.get("/api/operations/views/reconciliations")).json()["sections"]
        rows = {r["Bill type"]: r for r in next(s for s in sections if s["key"] == "invoices")["rows"]}
    assert (rows["audit"]["Invoices"], rows["audit"]["Premium"]) == (3, "31.00")  # BI-1 once
    assert (rows["endorsement"]["Invoices"], rows["endorsement"]["Premium"]) == (1, "5.00")
