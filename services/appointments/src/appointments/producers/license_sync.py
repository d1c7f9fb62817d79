"""License sync: ask NIPR for producers' licenses, which are due, and apply what comes back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from agency_common.contracts.appointments import (
    LicenseSyncRequested,
)
from agency_common.contracts.nipr import LicensesFetched
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.sql import chunks, in_list


async def request_license_sync(tx: Transaction, npns: Sequence[str]) -> int:
    if not npns:
        return 0
    now = utcnow()
    for part in chunks(list(npns)):
        await tx.session.execute(update(m.Producer).where(in_list(m.Producer.npn, part)).values(sync_requested_at=now))
    await tx.emit_many(LicenseSyncRequested(npn=n, request_id=str(uuid.uuid4())) for n in npns)
    return len(npns)


async def producers_due_for_sync(s: AsyncSession, refresh: timedelta, retry_after: timedelta,
                                 limit: int = 1000) -> list[str]:
    """Producers never synced (and not asked recently), or synced longer ago than ``refresh``."""
    now = utcnow()
    P = m.Producer
    asked_long_ago = or_(P.sync_requested_at.is_(None), P.sync_requested_at < now - retry_after)
    stmt = select(P.npn).where(or_(
        and_(P.synced_at.is_(None), asked_long_ago),
        and_(P.synced_at < now - refresh, asked_long_ago))).order_by(P.npn).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def apply_licenses(tx: Transaction, ev: LicensesFetched) -> None:
    s = tx.session
    producer = await s.scalar(select(m.Producer).where(m.Producer.npn == ev.npn))
    if producer is None:
        return
    if producer.synced_at is not None and producer.synced_at > ev.fetched_at:
        return  # an older answer arriving late
    producer.synced_at = ev.fetched_at
    producer.sync_status = "synced" if ev.found else "not_found"
    producer.active = bool(ev.found and ev.active)
    if ev.first_name and not producer.first_name:
        producer.first_name = ev.first_name
    if ev.last_name and not producer.last_name:
        producer.last_name = ev.last_name
    await s.execute(delete(m.License).where(m.License.producer_id == producer.id))
    if ev.licenses:
        await s.execute(insert(m.License.__table__), [{
            "producer_id": producer.id, "npn": ev.npn, "state": lic.state, "license_number": lic.license_number,
            "license_class": lic.license_class, "lines_of_authority": ";".join(lic.lines_of_authority),
            "active": lic.active, "resident": lic.resident, "effective_date": lic.effective_date,
            "expiration_date": lic.expiration_date, "fetched_at": ev.fetched_at} for lic in ev.licenses])
