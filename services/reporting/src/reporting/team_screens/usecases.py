"""The Team Screens batch process: one run under the lock, its snapshot and counts stored, the
``TeamScreensCalculated`` event through the outbox, old snapshots pruned."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agency_common.contracts.reporting import TeamScreensCalculated
from agency_common.db.engine import Database
from agency_common.errors import Conflict, Invalid
from agency_common.logging import get_logger
from agency_common.outbox import UnitOfWork
from agency_common.timeutil import utcnow
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.models import TeamScreenWindow
from reporting.settings import ReportingSettings
from reporting.team_screens.domain.rules import ACTIVITIES, OTHER, RENEWALS, SUBMISSIONS
from reporting.team_screens.domain.windows import BusinessCalendar, Windows, validate_window
from reporting.team_screens.lock import release_lock, try_lock
from reporting.team_screens.queries import TI, C, S, latest_snapshot
from reporting.team_screens.sql_rules import (
    changed_after_statement,
    insert_counts_statement,
    insert_items_statement,
)

log = get_logger(__name__)
W = TeamScreenWindow.__table__

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


WINDOW_SETTING = {ACTIVITIES: "team_screens_activities_window", SUBMISSIONS: "team_screens_submissions_window",
                  RENEWALS: "team_screens_renewals_window", OTHER: "team_screens_other_window"}


async def effective_settings(db: Database, settings: ReportingSettings) -> ReportingSettings:
    """The settings with the windows an administrator set on the screen in place of the configured ones."""
    async with db.session() as session:
        rows = (await session.execute(select(W.c.category, W.c.window))).all()
    changes = {WINDOW_SETTING[c]: w for c, w in rows if c in WINDOW_SETTING}
    return settings.model_copy(update=changes) if changes else settings


async def window_table(db: Database, settings: ReportingSettings) -> list[dict[str, Any]]:
    """Each category's window in effect, where it comes from, and who set it when."""
    async with db.session() as session:
        stored = {r["category"]: dict(r) for r in (await session.execute(select(W))).mappings()}
    out = []
    for category, name in WINDOW_SETTING.items():
        row = stored.get(category)
        out.append({"category": category, "window": row["window"] if row else getattr(settings, name),
                    "configured": getattr(settings, name), "set_by": row["updated_by"] if row else None,
                    "set_at": row["updated_at"].isoformat() if row else None})
    return out


async def set_windows(uow: UnitOfWork, windows: dict[str, str | None], actor: str) -> None:
    """Set (or, with None or '', reset to the configured setting) the window of each category named;
    an unknown category or window is refused in words and nothing is changed."""
    checked: dict[str, str | None] = {}
    for category, spec in windows.items():
        if category not in WINDOW_SETTING:
            raise Invalid(f"unknown category {category!r}: use one of {', '.join(WINDOW_SETTING)}")
        spec = (spec or "").strip()
        if spec:
            try:
                validate_window(spec)
            except ValueError as exc:
                raise Invalid(f"{category}: {exc}") from None
        checked[category] = spec or None
    async with uow(actor=actor) as tx:
        before = dict((await tx.session.execute(select(W.c.category, W.c.window))).all())
        await tx.audit("team_screens.windows_changed", subject_type="team_screen_windows",
                       detail={"before": {c: before.get(c) for c in checked}, "after": checked})
        for category, spec in checked.items():
            await tx.session.execute(delete(W).where(W.c.category == category))
            if spec is not None:
                await tx.session.execute(insert(W).values(category=category, window=spec, updated_by=actor,
                                                          updated_at=utcnow()))


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


AS_OF_LIMITS = (
    "An \"as of\" snapshot applies the rules at that time to today's read model, which keeps only the "
    "newest version of each job and activity. Reconstructed: jobs created after that time are left out, "
    "jobs and activities closed after it count as open then. Not reconstructed: who an item was assigned "
    "to then (today's user and group are used), an activity created after that time (the read model has "
    "no creation time), and target dates, model numbers and locked periods changed since. changed_after "
    "counts the counted items written after that time, whose state then may have differed."
)


class AsOfRefused(Invalid):
    """422: an "as of" time the batch process cannot use, in words."""


def check_as_of(as_of: datetime, now: datetime) -> datetime:
    """An aware past time, in UTC."""
    if as_of.tzinfo is None:
        raise AsOfRefused("the \"as of\" time needs a time zone (an offset such as -05:00 or Z, or a tz)")
    if as_of > now:
        raise AsOfRefused(f"the \"as of\" time {as_of.isoformat()} is in the future: choose a time before "
                          f"{now.isoformat()}")
    return as_of.astimezone(UTC)


async def calculate(
    db: Database,
    uow: UnitOfWork,
    settings: ReportingSettings,
    *,
    triggered_by: str,
    clock: Callable[[], datetime] = utcnow,
    skip_if_newer_than: timedelta | None = None,
    as_of: datetime | None = None,
) -> SnapshotResult | None:
    """Run the batch process once, holding the lock. ``CalculationBusy`` when another run holds it;
    ``None`` when ``skip_if_newer_than`` is given and a snapshot that recent exists (the schedule of
    several instances then runs it once). ``as_of``: a past time to compute the snapshot at
    (``AS_OF_LIMITS`` says what that can and cannot reconstruct).

    The items behind every count are stored by one ``INSERT ... SELECT`` (one consistent read) and
    the counts are then counted from them, so a drill-down lists exactly what its number counted."""
    if as_of is not None:
        as_of = check_as_of(as_of, clock())
    holder = f"{INSTANCE}:{uuid.uuid4().hex[:8]}"
    if not await try_lock(db, holder, timedelta(seconds=settings.team_screens_lock_lease_seconds)):
        raise CalculationBusy("a Team Screens calculation is already running")
    try:
        if skip_if_newer_than is not None:
            latest = await latest_snapshot(db)
            if latest is not None and latest["calculated_on"] > clock() - skip_if_newer_than:
                return None
        started = utcnow()
        settings = await effective_settings(db, settings)
        calculated_on = as_of if as_of is not None else clock()
        w = windows_for(settings, calculated_on)
        snapshot_id = str(uuid.uuid4())
        async with uow(actor=triggered_by) as tx:
            session = tx.session
            await session.execute(insert(S).values(
                id=snapshot_id, calculated_on=w.calculated_on, created_at=utcnow(), triggered_by=triggered_by,
                time_zone=settings.team_screens_time_zone, activities_window_start=w.activities,
                submissions_window_start=w.submissions, renewals_window_start=w.renewals,
                other_window_start=w.other, windows=json.dumps(window_settings(settings)),
                duration_ms=0, instance=INSTANCE, items_stored=True, as_of=as_of is not None, changed_after=0,
            ))
            await session.execute(insert_items_statement(snapshot_id, w, as_of is not None))
            await session.execute(insert_counts_statement(snapshot_id))
            if db.dialect == "postgresql":  # fresh statistics, or the first drill-downs plan nested loops
                await session.execute(text("ANALYZE team_screen_items"))
            rows = int(await session.scalar(select(func.count()).select_from(C).where(C.c.snapshot_id == snapshot_id))
                       or 0)
            changed = 0
            if as_of is not None:
                changed = int(await session.scalar(changed_after_statement(snapshot_id, as_of)) or 0)
            duration_ms = int((utcnow() - started).total_seconds() * 1000)
            await session.execute(update(S).where(S.c.id == snapshot_id)
                                  .values(duration_ms=duration_ms, changed_after=changed))
            await prune(session, utcnow() - timedelta(days=settings.team_screens_keep_days),
                        utcnow() - timedelta(days=settings.team_screens_items_keep_days))
            await tx.emit(TeamScreensCalculated(
                snapshot_id=snapshot_id, calculated_on=w.calculated_on, created_at=utcnow(), triggered_by=triggered_by,
                count_rows=rows, duration_ms=duration_ms,
                window_starts={"activities": w.activities, "submissions": w.submissions,
                               "renewals": w.renewals, "other_transactions": w.other},
            ))
        log.info("team screens calculated", snapshot_id=snapshot_id, rows=rows, duration_ms=duration_ms,
                 as_of=as_of.isoformat() if as_of else None)
        return SnapshotResult(snapshot_id, w.calculated_on, rows, duration_ms)
    finally:
        await release_lock(db, holder)


async def prune(session: AsyncSession, older_than: datetime, items_older_than: datetime | None = None) -> None:
    """Drop snapshots (and their counts and items) stored before ``older_than``, and the items of
    those stored before ``items_older_than`` (100,000 rows a snapshot: kept for fewer days than the
    counts; such a snapshot's drill-down then re-queries the live data)."""
    old = select(S.c.id).where(S.c.created_at < older_than)
    await session.execute(delete(TI).where(TI.c.snapshot_id.in_(old)))
    await session.execute(delete(C).where(C.c.snapshot_id.in_(old)))
    await session.execute(delete(S).where(S.c.created_at < older_than))
    if items_older_than is not None:
        expired = select(S.c.id).where(S.c.created_at < items_older_than, S.c.items_stored.is_(True))
        await session.execute(delete(TI).where(TI.c.snapshot_id.in_(expired)))
        await session.execute(update(S).where(S.c.created_at < items_older_than, S.c.items_stored.is_(True))
                              .values(items_stored=False))
