"""invoicing's use cases: called alike from HTTP routes, the dashboard and event consumers.

Every mutating use case takes a ``Transaction``, first locks the reconciliation's row (``SELECT ...
FOR UPDATE`` on PostgreSQL; SQLite's writers are serialised by ``BEGIN IMMEDIATE``), so stage
changes of one reconciliation never interleave, and writes its events to the outbox with
``tx.emit``. Work over a whole statement is set-based SQL (``INSERT ... SELECT``, ``UPDATE ...
WHERE``); money arithmetic in SQL is only addition, subtraction and comparison of money columns
(exact on both databases), everything else is done by the pure rules in ``domain.commission``.
"""

from __future__ import annotations

import json
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import select

from invoicing.errors import Conflict, NotFound
from invoicing.models import (
    IdempotentRequest,
    Reconciliation,
)
from invoicing.tables import FINAL


async def lock(tx: Transaction, rec_id: str) -> Reconciliation:
    rec = (await tx.session.execute(
        select(Reconciliation).where(Reconciliation.id == rec_id).with_for_update())).scalar_one_or_none()
    if rec is None:
        raise NotFound(f"reconciliation {rec_id} not found")
    return rec


def require_live(rec: Reconciliation) -> None:
    if rec.status in FINAL:
        raise Conflict(f"reconciliation is {rec.status}", status=rec.status)


async def replay(tx: Transaction, key: str | None, rec_id: str, operation: str) -> dict[str, Any] | None:
    """The stored answer to a request already made with this idempotency key (after the lock).

    Kept beside the common idempotency middleware, which does not do the same: these keys also come in
    JSON bodies (``idempotency_key``) the middleware never reads, start background jobs once, are
    replayed per reconciliation and operation whatever the body or the user, and a key reused for
    another operation answers 409 (the middleware: 422)."""
    if not key:
        return None
    done = await tx.session.get(IdempotentRequest, key)
    if done is None:
        return None
    if done.reconciliation_id != rec_id or done.operation != operation:
        raise Conflict("idempotency key already used for another request", key=key)
    return {**json.loads(done.response), "replayed": True}


async def remember(tx: Transaction, key: str | None, rec_id: str, operation: str,
                   response: dict[str, Any]) -> dict[str, Any]:
    if key:
        tx.session.add(IdempotentRequest(key=key, reconciliation_id=rec_id, operation=operation,
                                         response=json.dumps(response, default=str), created_at=utcnow(),
                                         created_by=tx.actor))
        await tx.session.flush()
    return response
