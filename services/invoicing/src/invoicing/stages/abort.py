"""Abort, by stage (seed 003)."""

from __future__ import annotations

from typing import Any

from agency_common.contracts.invoicing import PaymentRecorded
from agency_common.db.types import Money
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, delete, func, select, update

from invoicing.models import (
    Reconciliation,
)
from invoicing.reconciliations.locking import lock, remember, replay, require_live
from invoicing.reconciliations.status import header, refresh_status, totals
from invoicing.reconciliations.usecases import abort_preview, invoices_handled_by
from invoicing.tables import EVENT_CHUNK, INV, PAY, ZERO


async def abort(tx: Transaction, rec_id: str, key: str | None = None) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "abort")) is not None:
        return done
    if rec.status == "aborted":
        return {"outcome": "already aborted", "reconciliation": header(rec, await totals(tx.session, rec))}
    require_live(rec)
    return await remember(tx, key, rec_id, "abort", await abort_stage(tx, rec))


async def abort_stage(tx: Transaction, rec: Reconciliation) -> dict[str, Any]:
    """Abort, by stage (seed 003): before posting, the invoices are removed (none is created from
    here on); after posting, the reconciliation is aborted and its invoices stay posted, but are not
    reconciled: this reconciliation's payments are voided and pending received amounts cleared."""
    stage = rec.status
    unposted = [INV.c.reconciliation_id == rec.id, INV.c.status == "unposted"]
    removed_commission = await tx.session.scalar(select(func.sum(INV.c.commission)).where(*unposted)) or ZERO
    removed = (await tx.session.execute(delete(INV).where(*unposted))).rowcount or 0
    voided = ZERO
    payments = (await tx.session.execute(select(PAY.c.invoice_id, func.sum(PAY.c.amount).label("amount")).where(
        PAY.c.reconciliation_id == rec.id, PAY.c.voided_at.is_(None)).group_by(PAY.c.invoice_id))).all()
    now = utcnow()
    if payments:
        await tx.session.execute(update(INV).where(INV.c.id == bindparam("b_id")).values(
            paid_to_date=INV.c.paid_to_date - bindparam("b_amount", type_=Money()), status="posted"),
            [{"b_id": p.invoice_id, "b_amount": p.amount} for p in payments],
            execution_options={"synchronize_session": False})
        await tx.session.execute(update(PAY).where(PAY.c.reconciliation_id == rec.id, PAY.c.voided_at.is_(None))
                                 .values(voided_at=now))
        voided = sum((p.amount for p in payments), ZERO)
        for i in range(0, len(payments), EVENT_CHUNK):
            part = payments[i:i + EVENT_CHUNK]
            await tx.emit(PaymentRecorded(reconciliation_id=rec.id, invoice_ids=[str(p.invoice_id) for p in part],
                                          received_total=-sum((p.amount for p in part), ZERO), paid_by=tx.actor,
                                          paid_at=now))
    offered = await abort_preview(tx.session, rec)  # the same words as the confirmation dialog
    await tx.session.execute(update(INV).where(invoices_handled_by(rec.id)).values(
        pay_selected=False, received=None))
    kept = await tx.session.scalar(select(func.count()).where(
        INV.c.reconciliation_id == rec.id, INV.c.status.in_(("posted", "paid")))) or 0
    rec.received_total = round_money((rec.received_total or ZERO) - voided)
    rec.status, rec.aborted_at, rec.aborted_by, rec.aborted_stage = "aborted", now, tx.actor, stage
    t = await refresh_status(tx, rec)
    await tx.audit("reconciliation.aborted", subject_type="reconciliation", subject_id=rec.id, detail={
        "stage": stage, "invoices_removed": removed, "removed_commission_total": removed_commission,
        "invoices_kept_posted": kept, "payments_voided": len(payments), "voided_total": voided,
        "offered_to_next": offered["count"]})
    return {"aborted_stage": stage, "invoices_removed": removed, "invoices_kept_posted": kept,
            "payments_voided": len(payments), "voided_total": str(voided),
            "offered_to_next": {"count": offered["count"], "balance": str(offered["balance"]),
                                "message": offered["sentence"]},
            "reconciliation": header(rec, t)}
