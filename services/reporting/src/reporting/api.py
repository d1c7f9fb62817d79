"""reporting's JSON API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from agency_common.auth import CurrentUser
from reporting.models import DeadLetterCount, EventCount

router = APIRouter(prefix="/api", tags=["operations"])


@router.get("/operations/events")
async def event_counts(request: Request, _user: CurrentUser) -> list[dict[str, Any]]:
    async with request.app.state.runtime.db.session() as session:
        rows = await session.execute(
            select(EventCount.topic, EventCount.event_type, func.sum(EventCount.count))
            .group_by(EventCount.topic, EventCount.event_type)
            .order_by(EventCount.topic, EventCount.event_type)
        )
        return [{"topic": t, "event_type": e, "count": int(c)} for t, e, c in rows]


@router.get("/operations/dead-letters")
async def dead_letter_counts(request: Request, _user: CurrentUser) -> list[dict[str, Any]]:
    async with request.app.state.runtime.db.session() as session:
        rows = (await session.execute(select(DeadLetterCount).order_by(DeadLetterCount.topic))).scalars()
        return [{"topic": r.topic, "count": r.count} for r in rows]
