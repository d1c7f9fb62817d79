"""A statement that arrives as events (upstream.carrier-statements.v1): announced with its columns,
its rows in chunks (read by the row path, stored as an upload's), then completed: matched, and
imported as an upload is."""

from __future__ import annotations

import json
from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import func, select, update

from intake.carriers.registry import UnknownCarrier, carrier_names, find_carrier
from intake.carriers.rules import closest, tidy_name
from intake.errors import NotFound
from intake.models import Statement, StatementLineRow
from intake.statements.book import rematch
from intake.statements.domain.reader import NotAStatement, StatementParser
from intake.statements.imports import complete_import
from intake.statements.lines import store_lines
from intake.statements.queries import load_profile

LINES = StatementLineRow.__table__
STATEMENTS = Statement.__table__


async def feed_started(tx: Transaction, feed_id: str, carrier: str, file_name: str | None, statement_date: Any,
                       columns: list[str]) -> None:
    existing = (await tx.session.execute(select(Statement).where(Statement.feed_statement_id == feed_id))).scalar_one_or_none()
    if existing is not None:
        return  # the same statement announced again
    registered = await find_carrier(tx.session, carrier)
    st = Statement(carrier=registered.name if registered else tidy_name(carrier), source="feed",
                   file_name=(file_name or f"feed {feed_id}")[:300],
                   feed_statement_id=feed_id, statement_date=statement_date, header=json.dumps(columns),
                   status="receiving", imported_by=tx.actor, detected="feed")
    if registered is None:  # its lines are kept: once the carrier (or this alias) is registered, re-match
        st.error = str(UnknownCarrier(st.carrier, closest(st.carrier, await carrier_names(tx.session))))
    profile = await load_profile(tx.session, st.carrier)
    try:
        StatementParser(profile).use_header(columns)
    except NotAStatement as exc:
        st.status, st.error, st.completed_at = "failed", str(exc), utcnow()
    tx.session.add(st)
    await tx.session.flush()


async def feed_rows(tx: Transaction, feed_id: str, first_line_no: int, rows: list[list[str | None]]) -> None:
    st = (await tx.session.execute(select(Statement).where(Statement.feed_statement_id == feed_id))).scalar_one_or_none()
    if st is None:
        raise NotFound(f"rows for unknown feed statement {feed_id}")
    if st.status != "receiving" or not rows:
        return
    last = first_line_no + len(rows) - 1
    seen = await tx.session.scalar(select(func.count()).select_from(LINES).where(
        LINES.c.statement_id == st.id, LINES.c.line_no.between(first_line_no, last)))
    if seen:
        return  # a chunk delivered twice under another event id
    profile = await load_profile(tx.session, st.carrier)
    parser = StatementParser(profile)
    parser.use_header(json.loads(st.header or "[]"))
    batch = [r for i, cells in enumerate(rows)
             if (r := parser.line(st.id, first_line_no + i, ["" if c is None else str(c) for c in cells])) is not None]
    await store_lines(tx.session, batch)
    c = parser.counts
    await tx.session.execute(update(STATEMENTS).where(STATEMENTS.c.id == st.id).values(
        total=STATEMENTS.c.total + c.total, valid=STATEMENTS.c.valid + c.valid,
        invalid=STATEMENTS.c.invalid + c.invalid, blank=STATEMENTS.c.blank + c.blank,
        rows_processed=STATEMENTS.c.rows_processed + c.total))


async def feed_completed(tx: Transaction, feed_id: str, row_count: int, auto_publish: bool = True) -> None:
    st = (await tx.session.execute(select(Statement).where(Statement.feed_statement_id == feed_id))).scalar_one_or_none()
    if st is None:
        raise NotFound(f"completion of unknown feed statement {feed_id}")
    if st.status != "receiving":
        return
    await tx.session.refresh(st)
    if st.total != row_count:
        st.status, st.error, st.completed_at = "failed", f"the feed announced {row_count} rows but sent {st.total}", utcnow()
        await tx.session.flush()
        return
    await rematch(tx.session, st.id, st.carrier)
    await tx.session.refresh(st)
    counts = {k: getattr(st, k) for k in ("total", "valid", "invalid", "blank")}
    await complete_import(tx, st.id, counts, auto_publish=auto_publish)

