"""Manual tasks: work the Gateway cannot do (a for-cause termination in a state that refuses it
electronically), done by hand."""

from __future__ import annotations

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import eligibility as el
from appointments.domain import vocabulary as v
from appointments.errors import NotFound
from appointments.transactions.records import settle_imports


async def complete_task(tx: Transaction, task_id: str, note: str | None) -> m.ManualTask:
    """The operator did it outside the system (e.g. wrote to the department): recorded with who and when."""
    task = await tx.session.get(m.ManualTask, task_id, with_for_update=True)
    if task is None:
        raise NotFound("no such task")
    if task.status != "done":
        task.status, task.done_by, task.done_at, task.note = "done", tx.actor, utcnow(), (note or None)
        if task.kind == "for-cause termination":
            await _terminated_by_hand(tx.session, task)
        if task.import_id:
            await settle_imports(tx.session, [task.import_id])
    return task


async def _terminated_by_hand(s: AsyncSession, task: m.ManualTask) -> None:
    """A for-cause termination filed in writing ends the appointment when the filing is done, as a
    Gateway termination does when NIPR accepts it."""
    A = m.CarrierAppointment
    for appt in (await s.execute(select(A).where(A.npn == task.npn, A.state == task.state, A.cocode == task.cocode,
                                                 A.status == v.APPOINTED).with_for_update())).scalars():
        if el.norm(appt.line_of_authority) == el.norm(task.line_of_authority):
            appt.status, appt.terminated_at, appt.termination_reason_code = \
                v.TERMINATED, task.done_at, task.termination_reason_code


async def list_tasks(s: AsyncSession, status: str | None = "open", limit: int = 500) -> list[m.ManualTask]:
    stmt = select(m.ManualTask).order_by(m.ManualTask.created_at.desc(), m.ManualTask.npn).limit(limit)
    if status:
        stmt = stmt.where(m.ManualTask.status == status)
    return list((await s.execute(stmt)).scalars())
