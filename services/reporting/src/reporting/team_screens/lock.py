"""The single-runner lock of the batch process: a named row with a lease (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from agency_common.db.engine import Database, insert_ignoring_conflicts
from agency_common.timeutil import utcnow
from sqlalchemy import update

from reporting.models import BatchLock

LOCK_NAME = "team-screens"


async def try_lock(db: Database, holder: str, lease: timedelta, name: str = LOCK_NAME) -> bool:
    """Take the named lock if nobody holds an unexpired lease on it. One row per lock: on SQLite the
    write transaction serialises takers; on PostgreSQL the row lock does (the losing UPDATE re-checks
    its WHERE after the winner commits, and a racing INSERT waits on the primary key)."""
    now = utcnow()
    t = BatchLock.__table__
    async with db.transaction() as session:
        taken = await session.execute(
            update(t).where(t.c.name == name, t.c.lease_until < now)
            .values(holder=holder, lease_until=now + lease, acquired_at=now)
        )
        if taken.rowcount == 1:
            return True
        created = await session.execute(
            insert_ignoring_conflicts(session, t).values(name=name, holder=holder, lease_until=now + lease,
                                                         acquired_at=now)
        )
        return created.rowcount == 1


async def release_lock(db: Database, holder: str, name: str = LOCK_NAME) -> None:
    t = BatchLock.__table__
    async with db.transaction() as session:
        await session.execute(update(t).where(t.c.name == name, t.c.holder == holder).values(lease_until=utcnow()))

