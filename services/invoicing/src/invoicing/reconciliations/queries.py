"""The reconciliations list (issue 15): filtered by carrier, date booked, status and statement,
sorted by a column, paginated on the server with the total; the JSON API and the page share it."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.sql import ColumnElement

from invoicing.models import Reconciliation

R = Reconciliation.__table__

SORTS: dict[str, Any] = {
    "number": R.c.number, "name": R.c.name, "carrier": R.c.carrier, "date_booked": R.c.date_booked,
    "statement": R.c.statement_file, "status": R.c.status, "statement_total": R.c.statement_total,
    "received_total": R.c.received_total, "created_at": R.c.created_at,
}
STATUSES = ("open", "invoiced", "posted", "paid", "closed", "aborted")


class ReconciliationFilters(BaseModel):
    """No filter and no sort: every reconciliation, newest first (the list as it always was)."""

    status: str | None = None
    carrier: str | None = None  # the carrier's name, exactly (as the API always took it)
    date_from: date | None = None  # date booked, from this day
    date_to: date | None = None  # date booked, to this day (inclusive)
    statement: str | None = None  # any part of the statement's file name, or its id
    sort: str = Field(default="created_at", pattern="^(" + "|".join(SORTS) + ")$")
    order: str = Field(default="desc", pattern="^(asc|desc)$")


def conditions(f: ReconciliationFilters) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = []
    if f.status:
        cond.append(R.c.status == f.status)
    if f.carrier:
        cond.append(R.c.carrier == f.carrier)
    if f.date_from:
        cond.append(R.c.date_booked >= f.date_from)
    if f.date_to:
        cond.append(R.c.date_booked <= f.date_to)
    if f.statement:
        text = f.statement.strip()
        cond.append(or_(R.c.statement_id == text, func.lower(R.c.statement_file).contains(text.lower(),
                                                                                        autoescape=True)))
    return cond


async def list_reconciliations(session: Any, f: ReconciliationFilters, limit: int,
                               offset: int) -> tuple[int, list[Reconciliation]]:
    """The page of reconciliations and how many match in all (the id breaks ties: pages never overlap)."""
    cond = conditions(f)
    total = await session.scalar(select(func.count()).select_from(R).where(*cond)) or 0
    column = SORTS[f.sort]
    ordering = (column.desc() if f.order == "desc" else column.asc()).nulls_last()  # the same on both databases
    rows = (await session.execute(select(Reconciliation).where(*cond).order_by(
        ordering, Reconciliation.id.desc() if f.order == "desc" else Reconciliation.id.asc())
        .limit(limit).offset(offset))).scalars().all()
    return total, list(rows)
