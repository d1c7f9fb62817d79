"""The consumer's inbox: one row per applied event (per consumer), so a redelivery has no second
effect. Claimed in the batch's transaction with one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
(PostgreSQL, SQLite >= 3.35), not a select then an insert: the rows returned are the fresh events."""

from __future__ import annotations

from sqlalchemy import Table, delete

from agency_common.db.engine import insert_ignoring_conflicts, one_of
from agency_common.messaging.incoming import Incoming
from agency_common.outbox.unit_of_work import Transaction
from agency_common.timeutil import utcnow


async def claim(tx: Transaction, inbox: Table, consumer: str, batch: list[Incoming]) -> list[Incoming]:
    """Insert the batch's inbox rows in one statement and return the messages to apply, in order:
    those whose row is new (a redelivery, or a second copy in the same batch, is skipped). Rolled
    back with the transaction if it fails."""
    firsts: dict[str, Incoming] = {}
    for incoming in batch:
        firsts.setdefault(incoming.inbox_id, incoming)
    if not firsts:
        return []
    now = utcnow()
    rows = [{"event_id": key, "consumer": consumer, "topic": i.topic,
             "event_type": i.envelope.type if i.envelope else None, "received_at": now}
            for key, i in firsts.items()]
    result = await tx.session.execute(insert_ignoring_conflicts(tx.session, inbox).returning(inbox.c.event_id), rows)
    new = set(result.scalars())
    return [incoming for key, incoming in firsts.items() if key in new]


async def unclaim(tx: Transaction, inbox: Table, consumer: str, claimed: list[Incoming],
                  applied: list[Incoming]) -> None:
    """Delete the inbox rows of claimed messages that were not applied (parked, or waiting behind)."""
    done = {id(i) for i in applied}
    left = [i.inbox_id for i in claimed if id(i) not in done]
    if left:
        await tx.session.execute(delete(inbox).where(inbox.c.consumer == consumer,
                                                     one_of(tx.session, inbox.c.event_id, left)))
