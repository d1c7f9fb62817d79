"""Undo of a Create-Policies session (issue 15): a dry run (what would be voided, what not and why),
then the undo itself in one transaction: chunked UPDATEs, the session's lines of the voided policies
back to unmatched, one audit row, ``PoliciesUpdated`` per chunk. A second undo voids nothing more."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.intake import PoliciesUpdated, PolicyChange
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import and_, delete, exists, func, not_, or_, select, update

from intake.chunking import chunks
from intake.errors import Conflict, NotFound
from intake.models import (
    Individual,
    Policy,
    PolicyPosting,
    PolicySession,
    PolicyTerm,
    SalesRecord,
    Statement,
    StatementLineRow,
)
from intake.policies.schemas import snapshot
from intake.policy_sessions.domain.undo import VOIDED, PolicyFacts, blocking_reason, undo_window_refusal
from intake.statements.usecases import refresh_match_counts

P = Policy.__table__
LINES = StatementLineRow.__table__
READ_CHUNK = 5000


def own_reason(session_id: str) -> str:
    """The match reason Create Policies writes on the lines it made a policy of."""
    return f"policy created in session {session_id}"


async def classify(session: Any, s: PolicySession) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the statement was published, and every policy of the session (by client, then number)
    with ``reason`` (None: it may be voided). One read, the facts as EXISTS columns."""
    st = await session.get(Statement, s.statement_id) if s.statement_id else None
    published = st is not None and st.status != "imported"
    pp, sr, ind = PolicyPosting.__table__, SalesRecord.__table__, Individual.__table__
    postings = exists().where(pp.c.policy_id == P.c.id)
    other_lines = exists().where(LINES.c.policy_id == P.c.id, not_(and_(
        LINES.c.statement_id == (s.statement_id or ""),
        func.coalesce(LINES.c.match_reason, "") == own_reason(s.id))))
    sales = exists().where(sr.c.individual_id == ind.c.id, ind.c.client_id == P.c.client_id,
                           sr.c.created_at >= P.c.created_at)
    stmt = (select(P.c.id, P.c.policy_number, P.c.client_name, P.c.status, P.c.version, P.c.created_at,
                   P.c.updated_at, postings.label("postings"), other_lines.label("other_lines"),
                   sales.label("sales_record"))
            .where(P.c.session_id == s.id).order_by(P.c.client_name, P.c.policy_number, P.c.id))
    out: list[dict[str, Any]] = []
    result = await session.stream(stmt.execution_options(yield_per=READ_CHUNK))
    async for part in result.mappings().partitions(READ_CHUNK):
        for r in part:
            facts = PolicyFacts(status=r["status"], version=r["version"], created_at=r["created_at"],
                                updated_at=r["updated_at"], postings=bool(r["postings"]),
                                other_lines=bool(r["other_lines"]), sales_record=bool(r["sales_record"]))
            out.append({"policy_id": r["id"], "policy_number": r["policy_number"], "client_name": r["client_name"],
                        "status": r["status"], "reason": blocking_reason(facts, statement_published=published)})
        await asyncio.sleep(0)
    return published, out


async def _load(session: Any, session_id: str) -> PolicySession:
    s = await session.get(PolicySession, session_id)
    if s is None:
        raise NotFound("no such session")
    return s


def _check_window(s: PolicySession, hours: int) -> None:
    refusal = undo_window_refusal(s.created_at, utcnow(), hours)
    if refusal:
        raise Conflict(refusal)


def summary(s: PolicySession, hours: int, rows: list[dict[str, Any]], *, dry_run: bool, voided: int,
            show: str, limit: int, offset: int) -> dict[str, Any]:
    """Counts, the reasons with their counts, and one page of the policies (``show``: voidable,
    blocked or all)."""
    voidable = [r for r in rows if r["reason"] is None]
    blocked = [r for r in rows if r["reason"] is not None]
    reasons = Counter(r["reason"] for r in blocked)
    listed = {"voidable": voidable, "blocked": blocked}.get(show, rows)
    already = reasons.get("already voided", 0)
    if dry_run:
        message = (f"{len(voidable)} of {len(rows)} policies would be voided; {len(blocked) - already} cannot be"
                   + (f"; {already} already voided" if already else ""))
    elif voided:
        message = f"{voided} policies voided; {len(blocked) - already} could not be"
    elif already:
        message = (f"nothing more to void: {already} policies already voided"
                   + (f"; {len(blocked) - already} cannot be" if len(blocked) > already else ""))
    else:
        message = f"nothing voided: none of the {len(rows)} policies can be"
    return {
        "session_id": s.id, "session_number": s.number, "dry_run": dry_run, "window_hours": hours,
        "undo_until": (s.created_at + timedelta(hours=hours)).isoformat(), "policies": len(rows),
        "voidable": 0 if not dry_run else len(voidable), "voided": voided, "not_voidable": len(blocked) - already,
        "already_voided": already, "message": message,
        "reasons": [{"reason": k, "count": v} for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        "show": show, "total": len(listed), "limit": limit, "offset": offset,
        "items": [r | {"voidable": r["reason"] is None} for r in listed[offset:offset + limit]],
    }


async def undo_dry_run(session: Any, session_id: str, hours: int, *, show: str = "all", limit: int = 50,
                       offset: int = 0) -> dict[str, Any]:
    s = await _load(session, session_id)
    _check_window(s, hours)
    _published, rows = await classify(session, s)
    return summary(s, hours, rows, dry_run=True, voided=0, show=show, limit=limit, offset=offset)


async def undo_session(tx: Transaction, session_id: str, hours: int, *, show: str = "blocked", limit: int = 50,
                       offset: int = 0) -> dict[str, Any]:
    """Voids the session's untouched policies in one transaction; the page lists those not voided."""
    s = await _load(tx.session, session_id)
    _check_window(s, hours)
    _published, rows = await classify(tx.session, s)
    ids = [r["policy_id"] for r in rows if r["reason"] is None]
    now = utcnow()
    done_ids: set[str] = set()
    reason = f"its policy was voided by the undo of session {s.number}: create it again"
    for part in chunks(ids, BULK_CHUNK):
        # version 1 again in the WHERE: an edit that slipped in since the read keeps its policy
        res = await tx.session.execute(update(P).where(P.c.id.in_(part), P.c.version == 1).values(
            status=VOIDED, version=P.c.version + 1, updated_at=now).returning(P.c.id))
        done = list(res.scalars())
        if not done:
            continue
        done_ids.update(done)
        # found by policy first (its index): with the statement in the same WHERE, PostgreSQL
        # walked the statement's lines for every chunk (150 ms a chunk at 10,000 lines)
        line_ids = [lid for lid, stid in (await tx.session.execute(select(LINES.c.id, LINES.c.statement_id).where(
            LINES.c.policy_id.in_(done)))).all() if stid == s.statement_id]
        if line_ids:
            await tx.session.execute(update(LINES).where(LINES.c.id.in_(line_ids)).values(
                match_status="unmatched", policy_id=None, match_reason=reason),
                execution_options={"synchronize_session": False})
        changed = (await tx.session.execute(select(P).where(P.c.id.in_(done)))).mappings().all()
        await tx.emit(PoliciesUpdated(changes=[PolicyChange(policy=snapshot(dict(r)), changed_fields=["status"])
                                               for r in changed]))
        await asyncio.sleep(0)
    voided = len(done_ids)
    if voided and s.statement_id:
        await refresh_match_counts(tx.session, s.statement_id)
    for r in rows:
        if r["policy_id"] in done_ids:
            r["status"] = VOIDED
        elif r["reason"] is None:  # edited meanwhile
            r["reason"] = "it was edited after it was created"
    await tx.audit("policy_session.undone", subject_type="policy_session", subject_id=s.id, detail={
        "session_number": s.number, "voided": voided, "not_voided": sum(1 for r in rows if r["reason"]
                                                                        and r["reason"] != "already voided"),
        "already_voided": sum(1 for r in rows if r["reason"] == "already voided")})
    out = summary(s, hours, [r for r in rows if r["policy_id"] not in done_ids], dry_run=False, voided=voided,
                  show=show, limit=limit, offset=offset)
    out["policies"] = len(rows)
    return out


async def remove_voided(tx: Transaction, ids: list[str]) -> None:
    """Create Policies takes a voided policy's number again: the voided row (and its terms) goes, so
    the new policy can have the number. Refused while a line or a posting still names it (a
    statement matched to it after the undo): those are re-matched first."""
    pt, pp = PolicyTerm.__table__, PolicyPosting.__table__
    for part in chunks(ids, 500):
        named = (await tx.session.execute(select(P.c.policy_number).where(P.c.id.in_(part), or_(
            exists().where(LINES.c.policy_id == P.c.id), exists().where(pp.c.policy_id == P.c.id))))).scalars().first()
        if named:
            raise Conflict(f"policy {named} was voided, but a statement line or a posting still names it: "
                           "it cannot be created again")
    for part in chunks(ids, 500):
        await tx.session.execute(delete(pt).where(pt.c.policy_id.in_(part)))
        await tx.session.execute(delete(P).where(P.c.id.in_(part), P.c.status == VOIDED))
