"""Publishing a statement to invoicing (``StatementPublished``, then its matched lines in chunks of
``StatementLinesPublished``), and when an import may publish on its own."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from agency_common.contracts.intake import StatementLine, StatementLinesPublished, StatementPublished
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import select, update

from intake.carriers.registry import require_carrier
from intake.errors import Conflict, NotFound
from intake.models import Statement, StatementLineRow

LINES = StatementLineRow.__table__
PUBLISH_CHUNK = 500


def may_publish_on_its_own(st: Statement) -> bool:
    """A file re-imported with the duplicate override never goes to invoicing by itself: its lines may
    already be invoiced and paid there, so a user publishes it explicitly (issue 13)."""
    return st.duplicate_of is None


async def publish_statement(tx: Transaction, statement_id: str, exclude_unmatched: bool) -> Statement:
    st = await tx.session.get(Statement, statement_id)
    if st is None:
        raise NotFound("no such statement")
    if st.status != "imported":
        raise Conflict(f"statement is {st.status}: only an imported statement can be published")
    await require_carrier(tx.session, st.carrier)
    pending = st.unmatched + st.ambiguous
    if pending and not exclude_unmatched:
        raise Conflict(f"{pending} lines are not matched: create their policies, or publish with them excluded")
    if pending:
        await tx.session.execute(update(LINES).where(
            LINES.c.statement_id == statement_id, LINES.c.valid.is_(True),
            LINES.c.match_status != "matched").values(excluded=True), execution_options={"synchronize_session": False})
    rows: list[Any] = []
    result = await tx.session.stream(select(LINES).where(
        LINES.c.statement_id == statement_id, LINES.c.valid.is_(True), LINES.c.match_status == "matched")
        .order_by(LINES.c.line_no).execution_options(yield_per=5000))
    async for part in result.mappings().partitions(5000):
        rows.extend(part)
        await asyncio.sleep(0)  # a large statement: other requests are served meanwhile
    chunk_count = (len(rows) + PUBLISH_CHUNK - 1) // PUBLISH_CHUNK
    zero = Decimal("0.00")
    await tx.emit(StatementPublished(
        statement_id=st.id, carrier=st.carrier, statement_date=st.statement_date, file_name=st.file_name,
        line_count=len(rows), chunk_count=chunk_count,
        premium_total=sum((r["premium"] or zero for r in rows), zero),
        commission_total=sum((r["commission_amount"] or zero for r in rows), zero),
        excluded_unmatched=pending))
    for first in range(0, chunk_count, 10):  # ten chunks per executemany, the loop handed back between
        await tx.emit_many(
            StatementLinesPublished(statement_id=st.id, chunk_no=n + 1, chunk_count=chunk_count, lines=[
                StatementLine(line_id=str(r["id"]), line_no=r["line_no"], policy_id=r["policy_id"],
                              policy_number=r["policy_number"], insured_name=r["insured_name"],
                              transaction_type=r["transaction_type"], bill_type=r["bill_type"],
                              effective_date=r["effective_date"], expiration_date=r["expiration_date"],
                              line_of_business=r["line_of_business"], premium=r["premium"],
                              commission_rate=r["commission_rate"], commission_amount=r["commission_amount"],
                              producer_code=r["producer_code"])
                for r in rows[n * PUBLISH_CHUNK:(n + 1) * PUBLISH_CHUNK]])
            for n in range(first, min(first + 10, chunk_count)))
        await asyncio.sleep(0)
    st.status, st.published_by, st.published_at, st.excluded = "published", tx.actor, utcnow(), pending
    await tx.session.flush()
    return st

