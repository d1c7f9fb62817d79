"""The appointments report (Producer Licensing with Carrier Appointments): one page with the total
for the screen and the API, every row streamed for the export. The export's columns are the
report's (the seed's Related Producer, NPN, State Code, Line of Authority, CoCode); the termination
file accepts them as they are (``domain/rows.TERMINATION_ALIASES``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from agency_common.tabular import csv_bytes_paged
from sqlalchemy import func, select, tuple_
from sqlalchemy.sql import Select

from appointments import models as m

COLUMNS = ("Related Producer", "NPN", "State Code", "Line of Authority", "CoCode")
PII_COLUMNS = ("Related Producer",)  # the producer's name: exports are recorded
PAGE_SIZE = 100
EXPORT_PAGE = 5000


@dataclass(frozen=True)
class Filters:
    cocode: str | None = None
    status: str | None = None
    line_of_authority: str | None = None
    state: str | None = None  # one or more, "CA;TX"

    def where(self, stmt: Select[Any]) -> Select[Any]:
        A = m.CarrierAppointment
        if self.cocode:
            stmt = stmt.where(A.cocode == self.cocode)
        if self.status:
            stmt = stmt.where(A.status == self.status)
        if self.line_of_authority:
            stmt = stmt.where(A.line_of_authority == self.line_of_authority)
        if self.state:
            stmt = stmt.where(A.state.in_([s.strip().upper() for s in self.state.split(";") if s.strip()]))
        return stmt


def _rows_stmt(f: Filters) -> Select[Any]:
    A, P = m.CarrierAppointment, m.Producer
    stmt = select(A, P.first_name, P.last_name).join(P, P.npn == A.npn, isouter=True)
    # the unique key, so pages never overlap or skip
    return f.where(stmt).order_by(A.npn, A.state, A.line_of_authority, A.cocode)


def _item(a: m.CarrierAppointment, first: str | None, last: str | None) -> dict[str, Any]:
    return {"related_producer": f"{first or ''} {last or ''}".strip(), "npn": a.npn, "state": a.state,
            "line_of_authority": a.line_of_authority, "cocode": a.cocode, "status": a.status,
            "appointed_at": a.appointed_at.isoformat() if a.appointed_at else None,
            "terminated_at": a.terminated_at.isoformat() if a.terminated_at else None}


async def count(session: Any, f: Filters) -> int:
    return int(await session.scalar(f.where(select(func.count()).select_from(m.CarrierAppointment))) or 0)


async def page(session: Any, f: Filters, offset: int = 0, limit: int = PAGE_SIZE) -> dict[str, Any]:
    """``{total, offset, limit, items}``: one page of the report and how many rows match."""
    total = await count(session, f)
    rows = (await session.execute(_rows_stmt(f).offset(offset).limit(limit))).all()
    return {"total": total, "offset": offset, "limit": limit, "items": [_item(*r) for r in rows]}


def _export_stmt(f: Filters, after: tuple[str, str, str, str] | None, size: int) -> Select[Any]:
    """The next ``size`` rows after the key ``after`` (None: from the first), only the columns exported.
    A key, not an offset: each chunk costs the same however far the export is, and a row added or ended
    while it streams never shifts the rest (no row twice, none skipped)."""
    A, P = m.CarrierAppointment, m.Producer
    key = (A.npn, A.state, A.line_of_authority, A.cocode)
    stmt = f.where(select(P.first_name, P.last_name, *key).join(P, P.npn == A.npn, isouter=True))
    if after is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*after))
    return stmt.order_by(*key).limit(size)


def export(db: Any, f: Filters, page_size: int = EXPORT_PAGE) -> AsyncIterator[bytes]:
    """Every matching row as CSV (UTF-8 with BOM), read from the database a chunk at a time (by the
    report's unique key) and written as each chunk comes: the export never holds every row."""

    async def pages() -> AsyncIterator[Iterator[list[str]]]:
        after: tuple[str, str, str, str] | None = None
        async with db.session() as session:
            while True:
                rows = (await session.execute(_export_stmt(f, after, page_size))).all()
                if not rows:
                    return
                yield ([f"{first or ''} {last or ''}".strip(), npn, state, loa, cocode]
                       for first, last, npn, state, loa, cocode in rows)
                if len(rows) < page_size:
                    return
                after = tuple(rows[-1][2:])  # type: ignore[assignment]

    return csv_bytes_paged(list(COLUMNS), pages())
