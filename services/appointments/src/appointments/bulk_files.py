"""An uploaded bulk file (onboarding, terminations) stored row by row with its line and errors, and
its view (shared by the producers and terminations capabilities)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from agency_common.listing import Page, Sorting, page
from agency_common.outbox import Transaction
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import rows as rowcheck


async def store_import(tx: Transaction, kind: str, filename: str, content: bytes, parsed: rowcheck.ParsedFile,
                        display: Any, data: Any) -> m.BulkImport:
    imp = m.BulkImport(kind=kind, filename=filename[:300], sha256=hashlib.sha256(content).hexdigest(),
                       total_rows=len(parsed.rows), valid_rows=len(parsed.valid_rows),
                       invalid_rows=len(parsed.invalid_rows), blank_rows=parsed.blank_rows, uploaded_by=tx.actor)
    tx.session.add(imp)
    await tx.session.flush()
    if parsed.rows:
        await tx.session.execute(insert(m.BulkImportRow.__table__), [
            {"import_id": imp.id, "line": r.line, "valid": r.valid, "errors": r.errors,
             "display": display(r), "data": data(r)} for r in parsed.rows])
    return imp


def _termination_counts(r: m.BulkImportRow) -> dict[str, Any]:
    items = r.data.get("transactions", [])
    manual = [t["manual"] for t in items if t.get("manual")]
    return {"transactions": len(items) - len(manual), "manual_tasks": len(manual), "manual": manual}


def _row_view(kind: str, r: m.BulkImportRow) -> dict[str, Any]:
    return {"line": r.line, "valid": r.valid, "errors": r.errors, "values": r.display,
            **(_termination_counts(r) if kind == "terminations" else {}),
            **({"outcome": r.outcome} if kind == "producers" else {})}


def import_view(imp: m.BulkImport, rows: list[m.BulkImportRow]) -> dict[str, Any]:
    return imp.model_dump(mode="json") | {"rows": [_row_view(imp.kind, r) for r in rows]}


R = m.BulkImportRow
ROW_SORTING = Sorting({"line": [R.line]}, default="line", unique=R.id)
ROW_FILTERS = {"": None, "errors": False, "valid": True}  # which rows a page shows


async def import_page(session: AsyncSession, import_id: str, kind: str, offset: int, limit: int,
                      rows: str = "") -> tuple[dict[str, Any], Page] | None:
    """One import of this kind without its rows, and one page of them by line (``rows``: all, ``errors``
    or ``valid``), with how many there are; or None. A 10,000-row file is read a page at a time."""
    imp = await session.get(m.BulkImport, import_id)
    if imp is None or imp.kind != kind:
        return None
    stmt = select(R).where(R.import_id == import_id)
    if ROW_FILTERS.get(rows) is not None:
        stmt = stmt.where(R.valid.is_(ROW_FILTERS[rows]))
    listed = await page(session, stmt, ROW_SORTING, "line", offset, limit, {"rows": rows} if rows else {})
    listed.items = [_row_view(kind, r) for r in listed.items]
    return imp.model_dump(mode="json"), listed


async def load_import(session: AsyncSession, import_id: str, kind: str) -> dict[str, Any] | None:
    """The view of one import of this kind, or None."""
    imp = await session.get(m.BulkImport, import_id)
    if imp is None or imp.kind != kind:
        return None
    rows = (await session.execute(select(m.BulkImportRow).where(m.BulkImportRow.import_id == import_id)
                                  .order_by(m.BulkImportRow.line))).scalars().all()
    return import_view(imp, list(rows))


async def recent_imports(session: AsyncSession, kind: str, limit: int) -> Sequence[m.BulkImport]:
    """The newest bulk files of a kind (onboarding ``producers``, ``terminations``)."""
    return (await session.execute(select(m.BulkImport).where(m.BulkImport.kind == kind)
                                  .order_by(m.BulkImport.uploaded_at.desc()).limit(limit))).scalars().all()
