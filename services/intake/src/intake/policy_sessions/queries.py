"""Reads of Create Policies sessions shared by the API, the pages and the job."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from intake.errors import UseCaseError
from intake.models import (
    Policy,
    PolicySession,
    StatementLineRow,
)


async def session_for_key(session: Any, key: str) -> PolicySession | None:
    return (await session.execute(
        select(PolicySession).where(PolicySession.idempotency_key == key))).scalar_one_or_none()


async def selected_line_count(session: Any, statement_id: str, line_nos: list[int] | None) -> int:
    """How many unmatched lines a Create Policies request would take (an upper bound of its policies)."""
    t = StatementLineRow.__table__
    conds = [t.c.statement_id == statement_id, t.c.valid.is_(True), t.c.match_status == "unmatched"]
    count = await session.scalar(select(func.count()).select_from(t).where(*conds)) or 0
    return count if line_nos is None else min(count, len(set(line_nos)))


SESSION_SORTS = {
    "date": PolicySession.created_at, "user": PolicySession.created_by, "count": PolicySession.count,
    "number": PolicySession.number,
}


async def list_sessions(session: Any, *, user: str | None = None, date_from: date | None = None,
                        date_to: date | None = None, sort: str = "-date", limit: int = 50,
                        offset: int = 0) -> tuple[int, list[PolicySession]]:
    conds = []
    if user:
        conds.append(PolicySession.created_by == user)
    if date_from:
        conds.append(PolicySession.created_at >= datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to:
        conds.append(PolicySession.created_at < datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC))
    desc = sort.startswith("-")
    col = SESSION_SORTS.get(sort.lstrip("-"))
    if col is None:
        raise UseCaseError(f"sort must be one of {', '.join(SESSION_SORTS)} (prefix - for descending)")
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(PolicySession).where(where))
    order = [col.desc() if desc else col.asc(), PolicySession.number.desc() if desc else PolicySession.number.asc()]
    rows = (await session.execute(select(PolicySession).where(where).order_by(*order).limit(limit).offset(offset))).scalars().all()
    return total or 0, list(rows)


async def session_policies(session: Any, session_id: str) -> tuple[PolicySession, list[dict[str, Any]]] | None:
    """The session and its policies (by client, then number); None: no such session."""
    s = await session.get(PolicySession, session_id)
    if s is None:
        return None
    p = Policy.__table__.c
    rows = (await session.execute(select(p.id, p.client_name, p.policy_number, p.line_of_business, p.status,
                                         p.effective_date).where(p.session_id == session_id)
                                  .order_by(p.client_name, p.policy_number))).mappings().all()
    return s, [dict(r) for r in rows]
