"""The audit rows for personal data shown or taken away (issue 19 item 6, NAIC #668 §4D(2)(i)):
``pii.revealed`` for each individual whose PII a user saw in clear, ``pii.exported`` for each file
of individuals a user downloads, written before the file streams. Field and column names only,
never values; a masked view writes nothing, an empty download neither."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agency_common import audit
from agency_common.auth import User

from intake.individuals.domain.fields import PII_FIELDS
from intake.individuals.queries import EXPORT_FIELDS, search

REVEAL = "pii:reveal"


async def record_reveals(runtime: Any, user: User, individual_ids: Iterable[str | None], **context: Any) -> None:
    """One row per individual shown in clear (``context``: where, e.g. in a sales record); nothing
    when the user saw them masked."""
    if not user.can(REVEAL):
        return
    async with runtime.db.transaction() as session:
        for individual_id in dict.fromkeys(i for i in individual_ids if i):
            await audit.record_in(session, runtime.tables.audit_log, "pii.revealed", user.login,
                                  subject_type="individual", subject_id=individual_id,
                                  detail={"fields": sorted(PII_FIELDS), **context})


async def record_export(runtime: Any, user: User, *, export: str, rows: int, columns: list[str],
                        pii_columns: list[str], **scope: Any) -> None:
    """A file of individuals leaving the system: how many rows, which columns, which of them PII
    (and whether in clear), and what chose the rows (``scope``: filters or an import id)."""
    if rows <= 0:
        return
    revealed = user.can(REVEAL)
    await audit.record(runtime.db, runtime.tables.audit_log, "pii.exported", user.login,
                       subject_type="individual_export", subject_id=scope.get("import_id"),
                       detail={"export": export, "rows": rows, "columns": columns, "pii_columns": pii_columns,
                               "pii_in_clear": revealed and bool(pii_columns), **scope})


async def record_invalid_rows_export(runtime: Any, user: User, *, header: list[str], pii_indexes: Iterable[int],
                                     rows: int, **scope: Any) -> None:
    """The invalid rows of an import offered back as CSV (line, errors, then the file's own columns)."""
    pii = [header[i] for i in sorted(set(pii_indexes)) if 0 <= i < len(header)]
    await record_export(runtime, user, export="import_invalid_rows", rows=rows, columns=["line", "errors", *header],
                        pii_columns=pii, **scope)


async def record_search_export(runtime: Any, user: User, criteria: Any) -> None:
    """A search's individuals as CSV: counted before the file streams (an empty result is not recorded)."""
    async with runtime.db.session() as session:
        total, _ = await search(session, criteria, limit=1)
    await record_export(runtime, user, export="individuals_search", rows=total, columns=["id", *EXPORT_FIELDS],
                        pii_columns=[f for f in EXPORT_FIELDS if f in PII_FIELDS],
                        filters=criteria.model_dump(exclude_none=True, mode="json"))
