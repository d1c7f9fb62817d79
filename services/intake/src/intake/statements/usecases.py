"""Writes of the statements capability (besides the import itself, ``imports``): a carrier
profile saved, a statement's match counts recounted."""

from __future__ import annotations

import json
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import func, select, update

from intake.carriers.registry import require_carrier
from intake.domain.values import ValueProblem, parse_rate
from intake.errors import UseCaseError
from intake.models import CarrierProfile, Statement, StatementLineRow
from intake.statements.domain.mapping import validate_profile
from intake.statements.schemas import ProfileIn


async def save_profile(tx: Transaction, carrier: str, data: ProfileIn) -> CarrierProfile:
    carrier = (await require_carrier(tx.session, carrier, for_new_work=False)).name
    bill_types = {k.strip().upper(): v.strip() for k, v in data.bill_types.items() if k.strip()}
    columns = {k: v.strip() for k, v in data.columns.items() if v and v.strip()}
    problems = validate_profile(columns, bill_types)
    rate = None
    try:
        rate = parse_rate(data.default_commission_rate)
    except ValueProblem as exc:
        problems.append(f"default commission rate: {exc}")
    if rate is not None and rate < 0:
        problems.append("default commission rate is negative")
    if problems:
        raise UseCaseError("; ".join(problems))
    row = await tx.session.get(CarrierProfile, carrier)
    if row is None:
        row = CarrierProfile(carrier=carrier, updated_by=tx.actor)
        tx.session.add(row)
    row.columns = json.dumps(columns)
    row.bill_types = json.dumps(bill_types)
    row.prefixes = json.dumps([p.strip() for p in data.prefixes if p.strip()])
    row.sheet = (data.sheet or "").strip() or None
    row.default_commission_rate = rate
    row.updated_by, row.updated_at = tx.actor, utcnow()
    await tx.session.flush()
    return row


async def refresh_match_counts(session: Any, statement_id: str) -> None:
    t = StatementLineRow.__table__
    rows = (await session.execute(select(t.c.match_status, func.count()).where(
        t.c.statement_id == statement_id, t.c.valid.is_(True)).group_by(t.c.match_status))).all()
    counts = {status: n for status, n in rows}
    await session.execute(update(Statement.__table__).where(Statement.__table__.c.id == statement_id).values(
        matched=counts.get("matched", 0), unmatched=counts.get("unmatched", 0),
        ambiguous=counts.get("ambiguous", 0)))
