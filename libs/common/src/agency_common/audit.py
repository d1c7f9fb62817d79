"""The audit trail (NAIC #668 §4D(2)(i), ASVS V7.2; issue 19 item 6): append-only rows a reviewer can
rebuild every financial transaction and every touch of personal data from — who did what to which
record, when, from where, with the values before and after.

One ``audit_log`` table per service database (among the messaging tables). A row is written in the
transaction of the change it records (``Transaction.audit``), so a change never commits without its
row; actions outside a change (a login, a reveal of PII, an export) are written on their own
(``record``). The table refuses UPDATE and DELETE (a trigger on both databases). Details never hold
PII values: say which fields changed, and give amounts, not SSNs.

Actions are dotted names: ``login.succeeded``, ``login.failed``, ``login.refused``, ``pii.revealed``,
``pii.exported``, ``invoice.deleted``, ``statement_entry.changed`` ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from agency_common.db.engine import Database
from agency_common.logging import current_correlation_id, scrub_value
from agency_common.timeutil import utcnow

DETAIL_LIMIT = 8000


def audit_row(action: str, actor: str, *, subject_type: str | None = None, subject_id: str | None = None,
              detail: dict[str, Any] | None = None, address: str | None = None) -> dict[str, Any]:
    text = json.dumps(scrub_value(detail), default=str, sort_keys=True) if detail else None
    if text and len(text) > DETAIL_LIMIT:  # kept valid JSON: the start of it, said to be cut
        text = json.dumps({"truncated": True, "characters": len(text), "start": text[:DETAIL_LIMIT - 200]})
    return {"at": utcnow(), "actor": actor[:100], "action": action[:100], "subject_type": subject_type,
            "subject_id": None if subject_id is None else str(subject_id)[:100],
            "detail": text, "address": address,
            "correlation_id": current_correlation_id()}


async def record_in(session: AsyncSession, table: Table, action: str, actor: str, **fields: Any) -> None:
    """In the caller's transaction: the row commits with the change, or neither does."""
    await session.execute(insert(table).values(**audit_row(action, actor, **fields)))


async def record(db: Database, table: Table, action: str, actor: str, **fields: Any) -> None:
    """On its own, for what changes nothing (a login, a reveal, an export)."""
    async with db.transaction() as session:
        await record_in(session, table, action, actor, **fields)


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None  # a prefix: "login" finds login.succeeded and login.failed
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


async def page(db: Database, table: Table, q: AuditQuery) -> tuple[int, list[dict[str, Any]]]:
    """Newest first, with how many there are in all."""
    t = table
    conds = [c for c in (
        t.c.actor == q.actor if q.actor else None,
        t.c.action.startswith(q.action) if q.action else None,
        t.c.subject_id == q.subject_id if q.subject_id else None,
        t.c.at >= q.since if q.since else None,
        t.c.at < q.until if q.until else None,
    ) if c is not None]
    where = and_(*conds) if conds else None
    async with db.session() as s:
        count = select(func.count()).select_from(t)
        rows = select(t).order_by(t.c.id.desc()).limit(q.limit).offset(q.offset)
        if where is not None:
            count, rows = count.where(where), rows.where(where)
        total = (await s.execute(count)).scalar_one()
        items = [dict(r) for r in (await s.execute(rows)).mappings()]
    for item in items:
        item["detail"] = json.loads(item["detail"]) if item["detail"] else None
    return total, items


def append_only_sql(dialect: str) -> list[str]:
    """The triggers that make ``audit_log`` refuse UPDATE and DELETE (its migration runs these)."""
    if dialect == "postgresql":
        return [
            ("CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"),
            ("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"),
        ]
    return [
        ("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"),
        ("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"),
    ]
