"""Operations views built from the other services' events, over the real broker: tables, charts
(inline SVG) and CSV exports with formulas neutralised."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from agency_common.contracts import topics
from agency_common.contracts.appointments import (
    TransactionStatus,
    TransactionStatusChanged,
    TransactionStatusesChanged,
)
from agency_common.contracts.intake import (
    PolicyCreated,
    PolicySessionCreated,
    PolicySnapshot,
    StatementImported,
)
from agency_common.contracts.invoicing import InvoicePosted, PaymentRecorded, ReconciliationChanged
from agency_common.contracts.nipr import TransactionResultReceived

from tests.reporting.conftest import envelope, publish, utc
from tests.support.inprocess import eventually

T0 = utc(2025, 7, 11, 15, 0)


def statement(sid: str, carrier: str, valid: int, invalid: int, blank: int, at=T0) -> StatementImported:
    return StatementImported(statement_id=sid, carrier=carrier, file_name=f"{sid}.csv", imported_by="clerk",
                             imported_at=at, total_rows=valid + invalid + blank, valid_rows=valid,
                             invalid_rows=invalid, blank_rows=blank)


def policy(pid: str, session_id: str | None) -> PolicyCreated:
    return PolicyCreated(policy=PolicySnapshot(policy_id=pid, version=1, carrier="Acme", policy_number=pid,
                                               client_name="Client", session_id=session_id, updated_at=T0))


def reconciliation(status: str, received: str, at) -> ReconciliationChanged:
    return ReconciliationChanged(reconciliation_id="R-1", carrier="Acme", status=status, statement_total=Decimal("100.10"),
                                 received_total=Decimal(received), difference=Decimal("100.10") - Decimal(received),
                                 entry_count=2, changed_by="clerk", changed_at=at)


def transaction(tid: str, status: str, *, reason: str | None = None, billable: bool = False, at=T0,
                answered_after: timedelta | None = None) -> TransactionStatusChanged:
    return TransactionStatusChanged(
        transaction_id=tid, batch_id="B-1", kind="appointment", npn="1234567", state="TX", line_of_authority="Life",
        cocode="12345", status=status, eligibility_reason=reason, billable=billable,
        fee=Decimal("15.00") if billable else None, submitted_at=T0 if answered_after else None,
        answered_at=T0 + answered_after if answered_after else None, changed_at=at)


async def test_operations_views_from_the_other_services_events(start_service, token_for, kafka) -> None:
    svc = await start_service("reporting", team_screens_interval_seconds=0)
    events = [
        envelope(statement("S-1", "Acme", 90, 7, 3)),
        envelope(statement("S-2", "=HYPERLINK(\"http://x\")", 10, 0, 0)),
        envelope(statement("S-3", "Acme", 5, 1, 0, at=T0 + timedelta(days=1))),
        envelope(PolicySessionCreated(session_id="SES-1", statement_id="S-1", carrier="Acme", created_by="clerk",
                                      created_at=T0, count=2)),
        envelope(policy("P-1", "SES-1"), actor="clerk"),
        envelope(policy("P-2", "SES-1"), actor="clerk"),
        envelope(policy("P-3", None), actor="admin"),
        # The newer reconciliation state first, the older one after: the older must not win.
        envelope(reconciliation("paid", "100.10", T0 + timedelta(hours=2))),
        envelope(reconciliation("posted", "0.00", T0 + timedelta(hours=1))),
        envelope(InvoicePosted(invoice_id="I-1(S)", reconciliation_id="R-1", policy_id="P-1", bill_type="installment",
                               premium=Decimal("80.00"), commission=Decimal("8.00"))),
        envelope(PaymentRecorded(reconciliation_id="R-1", invoice_ids=["I-1(S)"], received_total=Decimal("100.10"),
                                 paid_by="clerk", paid_at=T0)),
        envelope(transaction("T-1", "Appointed", reason="Eligible", billable=True, answered_after=timedelta(seconds=40))),
        envelope(transaction("T-2", "Not Eligible", reason="No active license for the line of authority")),
        envelope(transaction("T-3", "Rejected", reason="Eligible", billable=True, answered_after=timedelta(minutes=10))),
        envelope(TransactionResultReceived(batch_id="B-1", transaction_id="T-1", idempotency_key="k1",
                                           outcome="accepted", processed_at=T0 + timedelta(seconds=40))),
        envelope(TransactionResultReceived(batch_id="B-1", transaction_id="T-3", idempotency_key="k3",
                                           outcome="rejected", reason="License inactive",
                                           processed_at=T0 + timedelta(minutes=10))),
    ]
    await publish(kafka, events + [events[0]],
                  raw=[(topics.dlt(topics.INTAKE_POLICIES), b"poison"), (topics.dlt(topics.INTAKE_POLICIES), b"x")])

    async with svc.as_user(token_for("clerk")) as client:
        async def all_in() -> bool:
            seen = sum(r["count"] for r in (await client.get("/api/operations/events")).json())
            dead = (await client.get("/api/operations/dead-letters")).json()
            return seen == len(events) and dead == [{"topic": topics.INTAKE_POLICIES, "count": 2}]
        await eventually(all_in, message="every event counted once, dead letters counted")

        st = (await client.get("/api/operations/views/statements")).json()["sections"][0]["rows"]
        acme = [r for r in st if r["Carrier"] == "Acme" and r["Day"] == "2025-07-11"]
        assert acme == [{"Day": "2025-07-11", "Carrier": "Acme", "Statements": 1, "Rows": 100, "Valid rows": 90,
                         "Invalid rows": 7, "Blank rows": 3}]
        assert len(st) == 3

        pol = {s["key"]: s["rows"] for s in (await client.get("/api/operations/views/policies")).json()["sections"]}
        assert {r["User"]: (r["Policies"], r["In Create-Policies sessions"], r["By hand"]) for r in pol["per-user"]} == {
            "clerk": (2, 2, 0), "admin": (1, 0, 1)}
        assert pol["per-session"][0]["Count (session)"] == 2 and pol["per-session"][0]["Policies seen"] == 2

        rec = {s["key"]: s["rows"] for s in (await client.get("/api/operations/views/reconciliations")).json()["sections"]}
        assert rec["by-status"] == [{"Status": "paid", "Reconciliations": 1, "Statement total": "100.10",
                                     "Received": "100.10", "Difference": "0.00", "Exceptions": 0}]
        assert rec["invoices"][0]["Premium"] == "80.00" and rec["payments"][0]["Received"] == "100.10"

        tx = {s["key"]: s["rows"] for s in (await client.get("/api/operations/views/transactions")).json()["sections"]}
        assert {(r["Status"], r["Transactions"], r["Billable"]) for r in tx["by-status"]} == {
            ("Appointed", 1, 1), ("Not Eligible", 1, 0), ("Rejected", 1, 1)}
        assert tx["billable"] == [{"Transactions": 3, "Billable": 2, "Not billable": 1, "Fees": "30.00"}]
        assert {r["Turnaround"]: r["Transactions"] for r in tx["nipr-turnaround"]}["under 1 min"] == 1
        assert {r["Turnaround"]: r["Transactions"] for r in tx["nipr-turnaround"]}["5–60 min"] == 1
        assert {(r["Outcome"], r["Reason"]) for r in tx["nipr-results"]} == {("accepted", ""),
                                                                           ("rejected", "License inactive")}
        reasons = {r["Eligibility reason"] for r in tx["by-eligibility-reason"]}
        assert "No active license for the line of authority" in reasons

        exported = await client.get("/api/operations/views/statements/per-carrier-day.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:2] == ["Day", "Carrier"]
        assert any(r[1] == "'=HYPERLINK(\"http://x\")" for r in rows[1:])  # neutralised formula

        for view in ("statements", "policies", "reconciliations", "transactions", "events"):
            page = await client.get(f"/operations/{view}")
            assert page.status_code == 200, view
            assert "<svg" in page.text and "<script" not in page.text.split("</head>")[1], view
        assert (await client.get("/operations/nope")).status_code == 404
    async with svc.as_user(token_for("viewer")) as viewer:
        assert (await viewer.get("/api/operations/views/statements")).status_code == 403


async def test_transaction_statuses_in_bulk_and_single_both_counted_by_transaction(start_service, token_for,
                                                                                  kafka) -> None:
    """Issue 17: a bulk action's statuses come as TransactionStatusesChanged chunks, a single change as
    TransactionStatusChanged (and old single events may still be in the topic): the view keeps each
    transaction's newest status whatever form it came in, and counts transactions, not messages."""
    svc = await start_service("reporting", team_screens_interval_seconds=0)
    chunk = TransactionStatusesChanged(transactions=[
        TransactionStatus(**transaction(tid, "Submitted", at=T0 + timedelta(minutes=1)).model_dump())
        for tid in ("T-10", "T-11", "T-12")])
    events = [
        envelope(transaction("T-10", "Ready to Submit", at=T0)),  # older than the chunk: the chunk wins
        envelope(chunk),
        envelope(transaction("T-11", "Appointed", billable=True, at=T0 + timedelta(minutes=5),
                             answered_after=timedelta(seconds=30))),  # newer than the chunk: it wins
        envelope(transaction("T-12", "Ready to Submit", at=T0)),  # an old single event arriving late: ignored
    ]
    await publish(kafka, events)
    async with svc.as_user(token_for("clerk")) as client:
        async def counted() -> bool:
            return sum(r["count"] for r in (await client.get("/api/operations/events")).json()) == 6
        await eventually(counted, message="3 single events and a chunk of 3 counted as 6 transactions")
        counts = {r["event_type"]: r["count"] for r in (await client.get("/api/operations/events")).json()}
        assert counts == {"appointments.transaction.status-changed": 3, "appointments.transactions.status-changed": 3}
        tx = {s["key"]: s["rows"] for s in (await client.get("/api/operations/views/transactions")).json()["sections"]}
        assert {(r["Status"], r["Transactions"]) for r in tx["by-status"]} == {("Submitted", 2), ("Appointed", 1)}
