"""One owner at a time for work that several replicas of a service could each pick up (issue 20:
two instances on one database must never run the same background job together).

A lease is a row of the service's ``leases`` table (among the messaging tables): a name (``kind:id``),
its holder (the instance's ``instance_id``) and until when it holds. Taking a lease succeeds when nobody
holds it, when this instance already does, or when the holder's time has run out (it stopped without
handing it back: killed, cut off from the database). The holder renews it well before it runs out
(``hold``); a holder whose renewal finds the lease taken over stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.db.engine import Database, dialect_insert
from agency_common.logging import get_logger
from agency_common.timeutil import utcnow

log = get_logger(__name__)

T = TypeVar("T")


class LeaseLost(Exception):
    """Another instance took the lease over: this one must stop the work at once."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the lease {name} was taken over by another instance")
        self.name = name


class Leases:
    def __init__(self, db: Database, table: Table, holder: str, ttl: timedelta = timedelta(seconds=60)) -> None:
        self.db = db
        self.table = table
        self.holder = holder
        self.ttl = ttl

    async def take(self, name: str) -> bool:
        """Take the lease: free, already ours, or run out. False while another instance holds it."""
        t = self.table
        now = utcnow()
        insert = dialect_insert(self.db.dialect)(t).values(
            name=name, holder=self.holder, lease_until=now + self.ttl, taken_at=now)
        stmt = insert.on_conflict_do_update(
            index_elements=[t.c.name],
            set_={"holder": insert.excluded.holder, "lease_until": insert.excluded.lease_until,
                  "taken_at": insert.excluded.taken_at},
            where=or_(t.c.holder == self.holder, t.c.lease_until < now),
        ).returning(t.c.name)
        async with self.db.transaction() as s:
            return (await s.execute(stmt)).first() is not None

    async def renew(self, name: str) -> bool:
        """Hold the lease for another ``ttl``; False when it is no longer ours."""
        t = self.table
        async with self.db.transaction() as s:
            renewed = await s.execute(update(t).where(t.c.name == name, t.c.holder == self.holder)
                                      .values(lease_until=utcnow() + self.ttl))
        return renewed.rowcount == 1

    async def confirm(self, session: AsyncSession, name: str) -> bool:
        """Inside the caller's transaction, before its writes: renew the lease if it is still ours. A
        fence: the writes commit only while this instance holds the lease (on PostgreSQL the lease's row
        stays locked until that commit, so nobody takes it over in between). False: write nothing."""
        t = self.table
        renewed = await session.execute(update(t).where(t.c.name == name, t.c.holder == self.holder)
                                        .values(lease_until=utcnow() + self.ttl))
        return renewed.rowcount == 1

    async def release(self, name: str) -> None:
        """Hand the lease back (another instance may take it at once)."""
        t = self.table
        async with self.db.transaction() as s:
            await s.execute(delete(t).where(t.c.name == name, t.c.holder == self.holder))

    async def holder_of(self, name: str) -> str | None:
        t = self.table
        async with self.db.session() as s:
            return (await s.execute(select(t.c.holder).where(t.c.name == name, t.c.lease_until >= utcnow()))
                    ).scalar_one_or_none()

    async def _keep(self, name: str) -> None:
        """Renew every quarter of the lease; raise ``LeaseLost`` once another instance has it. A renewal
        the database refuses for a moment is tried again at the next turn (the lease has time left)."""
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 4)
            try:
                still_ours = await self.renew(name)
            except Exception as exc:  # noqa: BLE001 - a database hiccup: the lease has 3/4 of its time left
                log.warning("lease not renewed", lease=name, error=str(exc))
                continue
            if not still_ours:
                raise LeaseLost(name)

    async def run_holding(self, name: str, work: Awaitable[T]) -> T:
        """Run ``work`` while renewing the lease (taken beforehand); when the lease is lost the work is
        cancelled and ``LeaseLost`` raised. The lease is handed back when the work ends, however it ends."""
        task = asyncio.ensure_future(work)
        keeper = asyncio.create_task(self._keep(name), name=f"lease-{name}")
        try:
            done, _ = await asyncio.wait({task, keeper}, return_when=asyncio.FIRST_COMPLETED)
            if keeper in done:  # lost: stop reading and writing at once
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                keeper.result()  # raises LeaseLost
            return task.result()
        finally:
            for pending in (task, keeper):
                pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.gather(task, keeper, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self.release(name))
