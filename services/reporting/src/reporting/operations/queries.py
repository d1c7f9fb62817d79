"""Operations views over the other services' events: each view is a few sections, each section a
GROUP BY query (a table, optionally a chart), exported as CSV with the same rows; and the plain
event and dead-letter counts. Shared by the JSON API and the pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agency_common.errors import NotFound
from markupsafe import Markup
from sqlalchemy import Integer, case, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.charts import bar_chart, stacked_bar_chart
from reporting.models import (
    DeadLetterCount,
    EventCount,
    OpsInvoice,
    OpsNiprResult,
    OpsPayment,
    OpsPolicy,
    OpsPolicySession,
    OpsReconciliation,
    OpsStatement,
    OpsTransaction,
)

ZERO = Decimal("0.00")


@dataclass
class Section:
    key: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    chart: Markup = field(default_factory=lambda: Markup(""))
    note: str = ""


@dataclass(frozen=True)
class View:
    key: str
    title: str
    build: Callable[[AsyncSession], Awaitable[list[Section]]]


def _int(v: Any) -> int:
    return int(v or 0)


def _money(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else ZERO


# -- statements -----------------------------------------------------------------------------------
async def statements(session: AsyncSession) -> list[Section]:
    t = OpsStatement.__table__
    rows = (await session.execute(
        select(t.c.day, t.c.carrier, func.count(), func.sum(t.c.total_rows), func.sum(t.c.valid_rows),
               func.sum(t.c.invalid_rows), func.sum(t.c.blank_rows))
        .group_by(t.c.day, t.c.carrier).order_by(t.c.day.desc(), t.c.carrier)
    )).all()
    table = [[d.isoformat(), c, _int(n), _int(tot), _int(v), _int(i), _int(b)] for d, c, n, tot, v, i, b in rows]
    per_day: dict[str, list[int]] = {}
    for d, _c, _n, _tot, v, i, b in table:
        acc = per_day.setdefault(d, [0, 0, 0])
        acc[0] += v
        acc[1] += i
        acc[2] += b
    per_carrier: dict[str, list[int]] = {}
    for _d, c, _n, _tot, v, i, b in table:
        acc = per_carrier.setdefault(c, [0, 0, 0])
        acc[0] += v
        acc[1] += i
        acc[2] += b
    chart_rows = [(d, vals) for d, vals in sorted(per_day.items(), reverse=True)[:14]]
    carrier_rows = sorted(per_carrier.items(), key=lambda kv: -sum(kv[1]))[:15]
    series = ["valid", "invalid", "blank"]
    return [Section(
        "per-carrier-day", "Statements imported per carrier and day",
        ["Day", "Carrier", "Statements", "Rows", "Valid rows", "Invalid rows", "Blank rows"], table,
        stacked_bar_chart(chart_rows, series, title="Rows imported per day (last 14 days)")
        + stacked_bar_chart(carrier_rows, series, title="Rows imported per carrier"),
    )]


# -- policies -------------------------------------------------------------------------------------
async def policies(session: AsyncSession) -> list[Section]:
    p, s = OpsPolicy.__table__, OpsPolicySession.__table__
    seen = select(p.c.session_id, func.count().label("n")).where(p.c.session_id.is_not(None)) \
        .group_by(p.c.session_id).subquery()
    sessions = (await session.execute(
        select(s.c.session_id, s.c.created_at, s.c.created_by, s.c.carrier, s.c.statement_id, s.c.count,
               func.coalesce(seen.c.n, 0))
        .outerjoin(seen, seen.c.session_id == s.c.session_id)
        .order_by(s.c.created_at.desc()).limit(1000)
    )).all()
    per_user = (await session.execute(
        select(p.c.created_by, func.count(),
               func.sum(case((p.c.session_id.is_not(None), 1), else_=0)),
               func.sum(case((p.c.session_id.is_(None), 1), else_=0)),
               func.count(func.distinct(p.c.session_id)))
        .group_by(p.c.created_by).order_by(func.count().desc(), p.c.created_by)
    )).all()
    user_rows = [[u, _int(n), _int(ins), _int(hand), _int(ns)] for u, n, ins, hand, ns in per_user]
    return [
        Section("per-user", "Policies created per user",
                ["User", "Policies", "In Create-Policies sessions", "By hand", "Sessions"], user_rows,
                bar_chart([(r[0], r[1]) for r in user_rows[:20]], title="Policies created per user")),
        Section("per-session", "Policies created per Create-Policies session",
                ["Session", "Created at", "User", "Carrier", "Statement", "Count (session)", "Policies seen"],
                [[sid, at.isoformat(timespec="seconds"), by, carrier, st or "", _int(n), _int(seen_n)]
                 for sid, at, by, carrier, st, n, seen_n in sessions],
                note="“Policies seen” counts the policies of the session in the policy events received (single or in chunks)."),
    ]


# -- reconciliations ------------------------------------------------------------------------------
async def reconciliations(session: AsyncSession) -> list[Section]:
    r, inv, pay = OpsReconciliation.__table__, OpsInvoice.__table__, OpsPayment.__table__
    by_status = (await session.execute(
        select(r.c.status, func.count(), func.sum(r.c.statement_total), func.sum(r.c.received_total),
               func.sum(r.c.difference), func.sum(r.c.exception_count))
        .group_by(r.c.status).order_by(r.c.status)
    )).all()
    status_rows = [[st, _int(n), _money(tot), _money(rec), _money(diff), _int(exc)]
                   for st, n, tot, rec, diff, exc in by_status]
    invoices = (await session.execute(
        select(inv.c.bill_type, func.count(), func.sum(inv.c.premium), func.sum(inv.c.commission))
        .group_by(inv.c.bill_type).order_by(inv.c.bill_type)
    )).all()
    payments = (await session.execute(
        select(pay.c.day, func.count(), func.sum(pay.c.invoice_count), func.sum(pay.c.received_total))
        .group_by(pay.c.day).order_by(pay.c.day.desc()).limit(90)
    )).all()
    return [
        Section("by-status", "Reconciliations by status",
                ["Status", "Reconciliations", "Statement total", "Received", "Difference", "Exceptions"], status_rows,
                bar_chart([(row[0], row[3]) for row in status_rows], title="Amount received per status")),
        Section("invoices", "Invoices posted by bill type", ["Bill type", "Invoices", "Premium", "Commission"],
                [[bt, _int(n), _money(pr), _money(cm)] for bt, n, pr, cm in invoices]),
        Section("payments", "Payments recorded per day", ["Day", "Payments", "Invoices paid", "Received"],
                [[d.isoformat(), _int(n), _int(k), _money(rec)] for d, n, k, rec in payments]),
    ]


# -- appointments ---------------------------------------------------------------------------------
TURNAROUND_BUCKETS = ((60, "under 1 min"), (300, "1–5 min"), (3600, "5–60 min"), (86400, "1–24 h"))


async def transactions(session: AsyncSession) -> list[Section]:
    t, n = OpsTransaction.__table__, OpsNiprResult.__table__
    by_status = (await session.execute(
        select(t.c.kind, t.c.status, func.count(), func.sum(case((t.c.billable.is_(True), 1), else_=0)),
               func.sum(case((t.c.billable.is_(True), t.c.fee), else_=None)))
        .group_by(t.c.kind, t.c.status).order_by(t.c.kind, t.c.status)
    )).all()
    status_rows = [[k, s, _int(c), _int(b), _money(f)] for k, s, c, b, f in by_status]
    # Grouped by output column names: a bound literal repeated in GROUP BY is a different parameter.
    by_reason = (await session.execute(
        select(func.coalesce(t.c.eligibility_reason, "(none)").label("reason"), t.c.status, func.count())
        .group_by(literal_column("reason"), t.c.status)
        .order_by(func.count().desc(), literal_column("reason"))
    )).all()
    billable = (await session.execute(
        select(func.count(), func.sum(case((t.c.billable.is_(True), 1), else_=0)),
               func.sum(case((t.c.billable.is_(True), t.c.fee), else_=None)))
    )).one()
    bucket = case(*[(t.c.turnaround_seconds < limit, label) for limit, label in TURNAROUND_BUCKETS],
                  else_="over 1 day")
    turnaround = (await session.execute(
        select(func.count(t.c.turnaround_seconds), cast(func.avg(t.c.turnaround_seconds), Integer),
               func.min(t.c.turnaround_seconds), func.max(t.c.turnaround_seconds))
    )).one()
    buckets = dict((await session.execute(
        select(bucket.label("bucket"), func.count()).where(t.c.turnaround_seconds.is_not(None))
        .group_by(literal_column("bucket"))
    )).all())
    order = [label for _, label in TURNAROUND_BUCKETS] + ["over 1 day"]
    bucket_rows = [[label, _int(buckets.get(label))] for label in order]
    results = (await session.execute(
        select(n.c.outcome, func.coalesce(n.c.reason, "").label("reason"), func.count())
        .group_by(n.c.outcome, literal_column("reason")).order_by(n.c.outcome, func.count().desc())
    )).all()
    total, billable_n, fees = billable
    answered, avg_s, min_s, max_s = turnaround
    return [
        Section("by-status", "Appointment transactions by status",
                ["Kind", "Status", "Transactions", "Billable", "Fees"], status_rows,
                bar_chart([(f"{r[0]} · {r[1]}", r[2]) for r in status_rows], title="Transactions per status")),
        Section("by-eligibility-reason", "Transactions by eligibility reason", ["Eligibility reason", "Status", "Transactions"],
                [[reason, s, _int(c)] for reason, s, c in by_reason]),
        Section("billable", "Billable transactions", ["Transactions", "Billable", "Not billable", "Fees"],
                [[_int(total), _int(billable_n), _int(total) - _int(billable_n), _money(fees)]],
                note="Transactions that are not eligible are not billed."),
        Section("nipr-turnaround", "NIPR turnaround (submitted → answered)", ["Turnaround", "Transactions"],
                bucket_rows, bar_chart([(r[0], r[1]) for r in bucket_rows], title="NIPR turnaround"),
                note=(f"{_int(answered)} answered; average {_int(avg_s)} s, fastest {_int(min_s)} s, "
                      f"slowest {_int(max_s)} s." if answered else "No answered transactions yet.")),
        Section("nipr-results", "NIPR results by outcome and reason", ["Outcome", "Reason", "Results"],
                [[o, r, _int(c)] for o, r, c in results]),
    ]


# -- events and dead letters ----------------------------------------------------------------------
async def events(session: AsyncSession) -> list[Section]:
    e, d = EventCount.__table__, DeadLetterCount.__table__
    counts = (await session.execute(
        select(e.c.topic, e.c.event_type, func.sum(e.c.count)).group_by(e.c.topic, e.c.event_type)
        .order_by(e.c.topic, e.c.event_type)
    )).all()
    dead = (await session.execute(select(d.c.topic, d.c.count).order_by(d.c.count.desc(), d.c.topic))).all()
    return [
        Section("dead-letters", "Dead letters per topic", ["Topic", "Dead-lettered"], [[t, _int(c)] for t, c in dead],
                bar_chart([(t, c) for t, c in dead], title="Dead letters per topic")),
        Section("events", "Events seen, per topic and type", ["Topic", "Event type", "Count"],
                [[t, et, _int(c)] for t, et, c in counts]),
    ]


VIEWS: dict[str, View] = {v.key: v for v in (
    View("statements", "Statements imported", statements),
    View("policies", "Policies created", policies),
    View("reconciliations", "Reconciliations", reconciliations),
    View("transactions", "Appointment transactions", transactions),
    View("events", "Events and dead letters", events),
)}


async def build_view(session: AsyncSession, view: str) -> tuple[View, list[Section]]:
    spec = VIEWS.get(view)
    if spec is None:
        raise NotFound("no such view")
    return spec, await spec.build(session)


def section_of(sections: list[Section], key: str) -> Section:
    found = next((s for s in sections if s.key == key), None)
    if found is None:
        raise NotFound("no such section")
    return found


async def event_counts(session: AsyncSession) -> list[tuple[str, str, int]]:
    """Events seen per topic and type (exact: the inbox stops duplicates)."""
    rows = await session.execute(
        select(EventCount.topic, EventCount.event_type, func.sum(EventCount.count))
        .group_by(EventCount.topic, EventCount.event_type)
        .order_by(EventCount.topic, EventCount.event_type)
    )
    return [(t, e, int(c)) for t, e, c in rows]


async def dead_letter_counts(session: AsyncSession) -> list[DeadLetterCount]:
    return list((await session.execute(select(DeadLetterCount).order_by(DeadLetterCount.topic))).scalars())
