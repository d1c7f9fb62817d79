"""The Team Screens batch process: one run under the lock, its snapshot and counts stored, the
``TeamScreensCalculated`` event through the outbox, old snapshots pruned."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agency_common.contracts.reporting import TeamScreensCalculated
from agency_common.db.engine import Database
from agency_common.errors import Conflict
from agency_common.logging import get_logger
from agency_common.outbox import UnitOfWork
from agency_common.timeutil import utcnow
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.settings import ReportingSettings
from reporting.team_screens.domain.windows import BusinessCalendar, Windows
from reporting.team_screens.lock import release_lock, try_lock
from reporting.team_screens.queries import C, S, latest_snapshot
from reporting.team_screens.sql_rules import compute_counts

log = get_logger(__name__)

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


class CalculationBusy(Conflict):
    """Another run (this instance or another) holds the Team Screens lock (409)."""


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: str
    calculated_on: datetime
    rows: int
    duration_ms: int


def calendar_of(settings: ReportingSettings) -> BusinessCalendar:
    return BusinessCalendar.of(settings.team_screens_time_zone, settings.team_screens_week_end_weekday,
                               settings.team_screens_week_end_time, settings.team_screens_holidays)


def windows_for(settings: ReportingSettings, calculated_on: datetime) -> Windows:
    return Windows.compute(
        calculated_on, calendar_of(settings),
        activities=settings.team_screens_activities_window,
        submissions=settings.team_screens_submissions_window,
        renewals=settings.team_screens_renewals_window,
        other=settings.team_screens_other_window,
    )


def window_settings(settings: ReportingSettings) -> dict[str, Any]:
    return {
        "time_zone": settings.team_screens_time_zone,
        "activities": settings.team_screens_activities_window,
        "submissions": settings.team_screens_submissions_window,
        "renewals": settings.team_screens_renewals_window,
        "other_transactions": settings.team_screens_other_window,
        "week_end_weekday": settings.team_screens_week_end_weekday,
        "week_end_time": settings.team_screens_week_end_time,
        "holidays": [d.isoformat() for d in settings.team_screens_holidays],
    }


async def calculate(
    db: Database,
    uow: UnitOfWork,
    settings: ReportingSettings,
    *,
    triggered_by: str,
    clock: Callable[[], datetime] = utcnow,
    skip_if_newer_than: timedelta | None = None,
) -> SnapshotResult | None:
    """Run the batch process once, holding the lock. ``CalculationBusy`` when another run holds it;
    ``None`` when ``skip_if_newer_than`` is given and a snapshot that recent exists (the schedule of
    several instances then runs it once)."""
    holder = f"{INSTANCE}:{uuid.uuid4().hex[:8]}"
    if not await try_lock(db, holder, timedelta(seconds=settings.team_screens_lock_lease_seconds)):
        raise CalculationBusy("a Team Screens calculation is already running")
    try:
        if skip_if_newer_than is not None:
            latest = await latest_snapshot(db)
            if latest is not None and latest["calculated_on"] > clock() - skip_if_newer_than:
                return None
        started = utcnow()
        calculated_on = clock()
        w = windows_for(settings, calculated_on)
        async with db.session() as session:  # a read transaction: ingestion is not held up meanwhile
            if db.dialect == "postgresql":  # both statements see one snapshot (SQLite's read txn does)
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            counts = await compute_counts(session, w)
        snapshot_id = str(uuid.uuid4())
        duration_ms = int((utcnow() - started).total_seconds() * 1000)
        async with uow(actor=triggered_by) as tx:
            await tx.session.execute(insert(S).values(
                id=snapshot_id, calculated_on=w.calculated_on, created_at=utcnow(), triggered_by=triggered_by,
                time_zone=settings.team_screens_time_zone, activities_window_start=w.activities,
                submissions_window_start=w.submissions, renewals_window_start=w.renewals,
                other_window_start=w.other, windows=json.dumps(window_settings(settings)),
                duration_ms=duration_ms, instance=INSTANCE,
            ))
            if counts:
                await tx.session.execute(insert(C), [{"snapshot_id": snapshot_id, **c} for c in counts])
            await prune(tx.session, utcnow() - timedelta(days=settings.team_screens_keep_days))
            await tx.emit(TeamScreensCalculated(
                snapshot_id=snapshot_id, calculated_on=w.calculated_on, created_at=utcnow(), triggered_by=triggered_by,
                count_rows=len(counts), duration_ms=duration_ms,
                window_starts={"activities": w.activities, "submissions": w.submissions,
                               "renewals": w.renewals, "other_transactions": w.other},
            ))
        log.info("team screens calculated", snapshot_id=snapshot_id, rows=len(counts), duration_ms=duration_ms)
        return SnapshotResult(snapshot_id, w.calculated_on, len(counts), duration_ms)
    finally:
        await release_lock(db, holder)


async def prune(session: AsyncSession, older_than: datetime) -> None:
    """Drop snapshots (and their counts) stored before ``older_than``: an hourly schedule would
    otherwise keep 7,700 count rows an hour per 500 users for ever."""
    old = select(S.c.id).where(S.c.created_at < older_than)
    await session.execute(delete(C).where(C.c.snapshot_id.in_(old)))
    await session.execute(delete(S).where(S.c.created_at < older_than))

