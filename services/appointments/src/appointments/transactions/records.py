"""What follows a transaction's change: its events (status, to the gateway) and its batches' and
imports' settled status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agency_common.contracts.appointments import (
    GatewayTransaction,
    TransactionBatchSubmitted,
    TransactionStatus,
    TransactionStatusChanged,
    TransactionStatusesChanged,
)
from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import vocabulary as v
from appointments.sql import chunks

SERVICE = "appointments"


EVENT_CHUNK = 500  # transactions per TransactionBatchSubmitted message


def _status(row: dict[str, Any] | m.AppointmentTransaction) -> dict[str, Any]:
    g = row.get if isinstance(row, dict) else lambda k, d=None: getattr(row, k, d)
    return {"transaction_id": g("id"), "batch_id": g("batch_id"), "kind": g("kind"), "npn": g("npn"),
            "state": g("state"), "line_of_authority": g("line_of_authority"), "cocode": g("cocode"),
            "status": g("status"), "eligibility_reason": g("eligibility_reason") or g("nipr_reason"),
            "billable": bool(g("billable")), "fee": g("fee"), "submitted_at": g("submitted_at"),
            "answered_at": g("answered_at"), "changed_at": g("updated_at") or utcnow()}


def status_event(row: dict[str, Any] | m.AppointmentTransaction) -> TransactionStatusChanged:
    return TransactionStatusChanged(**_status(row))


async def write_status_events(tx: Transaction, rows: Sequence[Any]) -> None:
    """The new status of the transactions one action changed: a single change keeps its single
    TransactionStatusChanged; many (bulk appoint, a batch submitted or closed, NIPR's results) go as
    TransactionStatusesChanged chunks of at most BULK_CHUNK, written a chunk at a time (the loop gets turns)."""
    if len(rows) == 1:
        await tx.emit(status_event(rows[0]))
        return
    for part in chunks(rows, BULK_CHUNK):
        await tx.emit(TransactionStatusesChanged(transactions=[TransactionStatus(**_status(r)) for r in part]))


def gateway_tx(row: dict[str, Any] | m.AppointmentTransaction) -> GatewayTransaction:
    g = row.get if isinstance(row, dict) else lambda k, d=None: getattr(row, k, d)
    return GatewayTransaction(transaction_id=g("id"), idempotency_key=g("idempotency_key"), kind=g("kind"),
                              npn=g("npn"), state=g("state"), line_of_authority=g("line_of_authority"),
                              cocode=g("cocode"), termination_reason_code=g("termination_reason_code"),
                              for_cause=bool(g("for_cause")))


async def emit_sent(tx: Transaction, batch_id: str, cocode: str, rows: Sequence[Any]) -> None:
    """The batch's sent transactions go to the gateway in messages of at most EVENT_CHUNK; every send
    is recorded in the audit trail (``batch.submitted``: the batch, its kind and how many were sent)."""
    if rows:
        first = rows[0]
        kind = first.get("kind") if isinstance(first, dict) else first.kind
        await tx.audit("batch.submitted", subject_type="transaction_batch", subject_id=batch_id,
                       detail={"kind": kind, "cocode": cocode, "transactions": len(rows)})
    for i in range(0, len(rows), EVENT_CHUNK):
        await tx.emit(TransactionBatchSubmitted(batch_id=batch_id, cocode=cocode,
                                                transactions=[gateway_tx(r) for r in rows[i:i + EVENT_CHUNK]]))


async def settle_batches(tx: Transaction, batch_ids: Iterable[str]) -> None:
    """A batch's status follows its transactions: ``submitted`` while one is pending at NIPR,
    ``completed`` once nothing is (and it sent something), ``draft`` while it has something to send,
    ``closed`` when it never sent anything and nothing in it can be sent (only Not Eligible or
    closed transactions): such a batch would otherwise wait in draft for ever. A termination file
    follows its batches (``settle_imports``)."""
    s = tx.session
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return
    T, B = m.AppointmentTransaction, m.TransactionBatch

    def holds(*statuses: str) -> Any:  # an index look-up (batch_id, status), however big the batch
        return exists().where(T.batch_id == B.id, T.status.in_(statuses))

    now = utcnow()
    batches: list[m.TransactionBatch] = []
    for part in chunks(ids):
        for b, pending, sendable in (await s.execute(
                select(B, holds(v.SUBMITTED), holds(*v.SENDABLE)).where(B.id.in_(part))
                .execution_options(populate_existing=True))).all():
            batches.append(b)
            status = ("submitted" if pending else "completed" if b.submitted_at is not None
                      else "draft" if sendable else "closed")
            if status == b.status:
                continue
            b.status = status
            b.completed_at = now if status in ("completed", "closed") else None
            b.closed_reason = None
            if status == "closed":
                other = await s.scalar(select(T.id).where(T.batch_id == b.id, T.status != v.NOT_ELIGIBLE).limit(1))
                b.closed_reason = v.BATCH_NOTHING_LEFT if other else v.BATCH_NOT_ELIGIBLE
    await s.flush()
    await settle_imports(s, {b.import_id for b in batches if b.import_id})


async def settle_imports(s: AsyncSession, import_ids: Iterable[str]) -> None:
    """A submitted termination file's status follows its batches and manual tasks: ``awaiting
    review`` while a batch is draft, ``submitted`` while one is pending at NIPR, ``awaiting manual
    tasks`` while a for-cause task is open, then ``completed``."""
    B, M = m.TransactionBatch, m.ManualTask
    for iid in dict.fromkeys(import_ids):
        imp = await s.get(m.BulkImport, iid)
        if imp is None or imp.kind != "terminations" or imp.processed_at is None:
            continue
        statuses = set((await s.execute(select(B.status).where(B.import_id == iid).distinct())).scalars())
        open_tasks = await s.scalar(select(M.id).where(M.import_id == iid, M.status == "open").limit(1))
        imp.status = ("awaiting review" if "draft" in statuses else "submitted" if "submitted" in statuses
                      else "awaiting manual tasks" if open_tasks else "completed")
