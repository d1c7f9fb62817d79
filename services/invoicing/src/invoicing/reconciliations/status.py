"""A reconciliation's header: totals, derived status (with its event) and the header JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agency_common.contracts.invoicing import ReconciliationChanged
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import case, func, select

from invoicing.domain.commission import (
    derive_status,
)
from invoicing.models import (
    Reconciliation,
)
from invoicing.tables import EXC, INV, ZERO, E


async def totals(session: Any, rec: Reconciliation) -> dict[str, Any]:
    """The header's figures: one pass over the rows, one over the invoices (grouped by status)."""
    s = session
    ent = (await s.execute(select(
        func.count(), func.sum(case((E.c.selected.is_(True), 1), else_=0)),
        func.sum(case((E.c.selected.is_(True), E.c.commission_paid), else_=None)))
        .where(E.c.reconciliation_id == rec.id))).one()
    entry_count, selected_count, selected_commission = ent[0] or 0, ent[1] or 0, ent[2] or ZERO
    inv = {row.status: row for row in (await s.execute(
        select(INV.c.status, func.count().label("n"), func.sum(INV.c.commission).label("commission"))
        .where(INV.c.reconciliation_id == rec.id).group_by(INV.c.status))).all()}
    exceptions = await s.scalar(select(func.count()).where(
        EXC.c.reconciliation_id == rec.id, EXC.c.status == "open")) or 0
    carried = (await s.execute(select(func.count(), func.sum(INV.c.commission - INV.c.paid_to_date)).where(
        INV.c.carried_to == rec.id, INV.c.status == "posted"))).one()
    statement_total = rec.statement_total if rec.statement_total is not None else selected_commission
    received = rec.received_total or ZERO
    return {
        "statement_total": statement_total,
        "statement_total_source": "statement" if rec.statement_total is not None else "selected rows",
        "received_total": received,
        "difference": round_money(statement_total - received),
        "entry_count": entry_count,
        "selected_count": selected_count,
        "selected_commission": selected_commission,
        "unposted_count": inv["unposted"].n if "unposted" in inv else 0,
        "posted_count": inv["posted"].n if "posted" in inv else 0,
        "paid_count": inv["paid"].n if "paid" in inv else 0,
        "invoiced_commission": sum((r.commission or ZERO for r in inv.values()), ZERO),
        "exception_count": exceptions,
        # posted, unpaid invoices of aborted reconciliations offered here (Transactions – direct bill)
        "carried_count": carried[0] or 0, "carried_balance": carried[1] or ZERO,
    }


async def refresh_status(tx: Transaction, rec: Reconciliation, emit: bool = True) -> dict[str, Any]:
    t = await totals(tx.session, rec)
    rec.status = derive_status(rec.status, unposted=t["unposted_count"], posted_unpaid=t["posted_count"],
                               paid=t["paid_count"])
    rec.version += 1
    rec.updated_at = utcnow()
    rec.updated_by = tx.actor
    await tx.session.flush()
    if emit:
        await tx.emit(ReconciliationChanged(
            reconciliation_id=rec.id, carrier=rec.carrier, status=rec.status, statement_id=rec.statement_id,
            statement_total=t["statement_total"], received_total=t["received_total"],
            difference=t["difference"], entry_count=t["entry_count"], exception_count=t["exception_count"],
            changed_by=tx.actor, changed_at=rec.updated_at))
    return t


def header(rec: Reconciliation, t: dict[str, Any]) -> dict[str, Any]:
    return {**rec.model_dump(mode="json"), **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in t.items()}}
