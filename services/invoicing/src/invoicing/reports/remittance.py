"""The three printable reports of seed 003: Reconciliation Summary, Exceptions Report and Carrier
Remittance Advice. Each is built once as columns and rows and rendered as JSON, CSV or an HTML
print view."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agency_common.money import round_money
from agency_common.tabular import neutralise
from sqlalchemy import func, select

from invoicing import errors, tables
from invoicing.models import Reconciliation
from invoicing.reconciliations import status as rec_status
from invoicing.reconciliations import usecases as rec_uc
from invoicing.stages import create_pay_all as create_pay_all_uc
from invoicing.statement_entry import queries as entry_queries

KINDS = {"summary": "Reconciliation Summary", "exceptions": "Exceptions Report",
         "remittance": "Carrier Remittance Advice"}
HTML_ROW_LIMIT = 5000


@dataclass
class Report:
    kind: str
    title: str
    header: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    sections: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    truncated: int = 0


async def build(session: Any, rec_id: str, kind: str, row_limit: int | None = None) -> Report:
    rec = await session.get(Reconciliation, rec_id)
    if rec is None:
        raise errors.NotFound(f"reconciliation {rec_id} not found")
    if kind not in KINDS:
        raise errors.NotFound(f"no report {kind!r}: one of {', '.join(KINDS)}")
    t = await rec_status.totals(session, rec)
    head = {"Reconciliation": rec.id, "Carrier": rec.carrier, "Subordinate carrier": rec.subordinate_carrier or "",
            "Name": rec.name, "Address": rec.address or "", "Date booked": rec.date_booked.isoformat(),
            "Status": rec.status, "Statement total": t["statement_total"], "Received": t["received_total"],
            "Difference": t["difference"], "Description": rec.description or ""}
    if kind == "summary":
        return await _summary(session, rec, head, t)
    if kind == "exceptions":
        rows = await create_pay_all_uc.exception_rows(session, rec_id, limit=row_limit)
        cols = ["Row", "Client", "Policy number", "Bill type", "Eff date", "Premium paid", "Commission paid",
                "Production credit total", "People commission total", "Reasons"]
        return Report(kind, KINDS[kind], head, cols, [[
            r["entry_id"], r["client_name"], r["policy_number"], r["bill_type"], r["effective_date"],
            _d(r["premium_paid"]), _d(r["commission"]), _d(r["credit_total"]), _d(r["people_total"]),
            "; ".join(r["messages"])] for r in rows])
    return await _remittance(session, rec, head, row_limit)


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


async def _summary(session: Any, rec: Reconciliation, head: dict[str, Any], t: dict[str, Any]) -> Report:
    inv = tables.INV
    by_type = (await session.execute(
        select(inv.c.bill_type, inv.c.status, func.count(), func.sum(inv.c.premium), func.sum(inv.c.commission),
               func.sum(inv.c.people_commission_total), func.sum(inv.c.paid_to_date))
        .where(inv.c.reconciliation_id == rec.id).group_by(inv.c.bill_type, inv.c.status)
        .order_by(inv.c.bill_type, inv.c.status))).all()
    rows = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], round_money((r[4] or 0) - (r[6] or 0))] for r in by_type]
    stage = [["Statement entries", t["entry_count"]], ["Selected rows", t["selected_count"]],
             ["Selected commission", t["selected_commission"]], ["Unposted invoices", t["unposted_count"]],
             ["Posted invoices (unpaid)", t["posted_count"]], ["Paid invoices", t["paid_count"]],
             ["Open exceptions", t["exception_count"]],
             ["Posted invoices carried from aborted reconciliations (unpaid)", t["carried_count"]]]
    if rec.aborted_at:
        stage.append(["Aborted at stage", f"{rec.aborted_stage} by {rec.aborted_by} at {rec.aborted_at:%Y-%m-%d %H:%M} UTC"])
    cols = ["Bill type", "Status", "Invoices", "Premium", "Commission", "People commission", "Paid to date",
            "Balance"]
    return Report("summary", KINDS["summary"], head, cols, rows, sections=[("Stage", ["Item", "Value"], stage)])


async def _remittance(session: Any, rec: Reconciliation, head: dict[str, Any], row_limit: int | None) -> Report:
    inv, pay = tables.INV, tables.PAY
    received = (select(pay.c.invoice_id, func.sum(pay.c.amount).label("received_paid"))
                .where(pay.c.reconciliation_id == rec.id, pay.c.voided_at.is_(None))
                .group_by(pay.c.invoice_id).subquery())
    stmt = (select(inv, received.c.received_paid).select_from(inv.outerjoin(received, received.c.invoice_id == inv.c.id))
            .where(rec_uc.invoices_handled_by(rec.id), inv.c.status.in_(("posted", "paid"))).order_by(inv.c.id))
    if row_limit:
        stmt = stmt.limit(row_limit)
    rows = []
    for r in (await session.execute(stmt)).all():
        rows.append([f"{r.id}(S)", r.effective_date.isoformat() if r.effective_date else None, r.bill_type,
                     r.client_name, r.policy_number, r.line_of_business, r.premium, entry_queries.rate_input(r.rate_type, r.rate),
                     r.commission,
                     r.received_paid or Decimal("0.00"), r.paid_to_date, round_money(r.commission - r.paid_to_date),
                     r.people_commission_total])
    cols = ["Item ID", "Date", "Bill type", "Client", "Policy number", "LOB", "Premium", "Rate", "Commission",
            "Received (this reconciliation)", "Paid to date", "Balance", "People commission"]
    return Report("remittance", KINDS["remittance"], head, cols, rows)


def to_json(report: Report) -> dict[str, Any]:
    def cell(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else v

    return {"kind": report.kind, "title": report.title, "header": {k: cell(v) for k, v in report.header.items()},
            "columns": report.columns, "rows": [[cell(c) for c in row] for row in report.rows],
            "sections": [{"title": t, "columns": c, "rows": [[cell(x) for x in r] for r in rows]}
                         for t, c, rows in report.sections]}


def to_csv(report: Report) -> Iterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([neutralise(report.title)])
    for k, v in report.header.items():
        w.writerow([neutralise(k), neutralise(v)])
    for title, cols, rows in report.sections:
        w.writerow([])
        w.writerow([neutralise(title)])
        w.writerow([neutralise(c) for c in cols])
        for r in rows:
            w.writerow([neutralise(c) for c in r])
    w.writerow([])
    w.writerow([neutralise(c) for c in report.columns])
    yield codecs.BOM_UTF8 + buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    for i, row in enumerate(report.rows, 1):
        w.writerow([neutralise(c) for c in row])
        if i % 1000 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.getvalue():
        yield buf.getvalue().encode()
