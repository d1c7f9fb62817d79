"""Reads of batches shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from appointments import models as m
from appointments.batches.usecases import batch_summary


async def batch_view(db: Any, batch_id: str) -> dict[str, Any] | None:
    """A batch with its summary and its transactions, or None."""
    async with db.session() as session:
        batch = await session.get(m.TransactionBatch, batch_id)
        if batch is None:
            return None
        T = m.AppointmentTransaction
        rows = (await session.execute(select(T).where(T.batch_id == batch_id)
                                      .order_by(T.state, T.npn, T.line_of_authority))).scalars().all()
        summary = await batch_summary(session, batch_id)
    return batch.model_dump(mode="json") | summary | {
        "transactions": [r.model_dump(mode="json", exclude={"idempotency_key"}) for r in rows]}

