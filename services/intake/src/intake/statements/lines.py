"""Storing a statement's lines: the tuned bulk paths (the driver's executemany on SQLite, COPY on
PostgreSQL), for the row path's dicts (``store_lines``) and the fast path's polars frames
(``prepare_lines`` then ``store_prepared``)."""

from __future__ import annotations

import io
import itertools
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import insert

from intake.models import StatementLineRow
from intake.statements.domain.columnar import FRAME_COLUMNS

LINES = StatementLineRow.__table__
LINE_COLUMNS = ("statement_id", "line_no", "valid", "errors", "raw", "policy_number", "normalised_number",
                "insured_name", "transaction_type", "bill_type", "effective_date", "expiration_date",
                "line_of_business", "premium", "commission_rate", "commission_amount", "producer_code",
                "match_status", "match_reason", "policy_id", "excluded")
_SQLITE_INSERT = (f"INSERT INTO statement_lines ({', '.join(LINE_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in LINE_COLUMNS)})")
_HUNDRED, _MILLION = Decimal(100), Decimal(1_000_000)


async def store_lines(session: Any, rows: list[dict[str, Any]]) -> None:
    """The bulk path for statement lines: the driver's executemany on SQLite, COPY on PostgreSQL
    (values converted here exactly as the column types would: cents and micro-units on SQLite)."""
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        def cents(v: Decimal | None) -> int | None:
            return None if v is None else int(v * _HUNDRED)

        params = [(
            r["statement_id"], r["line_no"], 1 if r["valid"] else 0, r["errors"], r["raw"], r["policy_number"],
            r["normalised_number"], r["insured_name"], r["transaction_type"], r["bill_type"],
            r["effective_date"].isoformat() if r["effective_date"] else None,
            r["expiration_date"].isoformat() if r["expiration_date"] else None,
            r["line_of_business"], cents(r["premium"]),
            None if r["commission_rate"] is None else int(r["commission_rate"] * _MILLION),
            cents(r["commission_amount"]), r["producer_code"], r["match_status"], r["match_reason"], r["policy_id"],
            1 if r["excluded"] else 0) for r in rows]
        await conn.exec_driver_sql(_SQLITE_INSERT, params)
    elif dialect == "postgresql":
        raw = await conn.get_raw_connection()
        records = [tuple(r[c] for c in LINE_COLUMNS) for r in rows]
        await raw.driver_connection.copy_records_to_table("statement_lines", records=records, columns=list(LINE_COLUMNS))
    else:
        await session.execute(insert(LINES), rows)


def _cents_text(c: pl.Expr, scale: int) -> pl.Expr:
    """A scaled integer as the NUMERIC text PostgreSQL reads (exact: integer arithmetic)."""
    unit = 10 ** scale
    return pl.when(c.is_null()).then(None).otherwise(pl.format(
        "{}{}.{}", pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit("")), c.abs() // unit,
        (c.abs() % unit).cast(pl.String).str.zfill(scale)))


@dataclass
class PreparedLines:
    """A batch of the fast path's valid lines made ready for the database: executemany statements
    on SQLite, COPY's CSV on PostgreSQL."""

    statements: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list)
    csv: bytes = b""


ROWS_PER_INSERT = 50  # SQLite: one INSERT of 50 rows costs a fifth less than 50 of one row


def prepare_lines(dialect: str, statement_id: str, frame: pl.DataFrame | None) -> PreparedLines | None:
    """Amounts are in cents and rates in millionths in the frame: on SQLite that is what the Money
    and Rate columns store; PostgreSQL gets their exact NUMERIC text."""
    if frame is None or not frame.height:
        return None
    if dialect == "postgresql":
        constants = {"statement_id": statement_id, "valid": True, "errors": None, "raw": None, "excluded": False}
        out = frame.with_columns(premium=_cents_text(pl.col("premium"), 2),
                                 commission_amount=_cents_text(pl.col("commission_amount"), 2),
                                 commission_rate=_cents_text(pl.col("commission_rate"), 6))
        out = out.with_columns(**{k: pl.lit(v, dtype=pl.Boolean if isinstance(v, bool) else pl.String)
                                  for k, v in constants.items()}).select(LINE_COLUMNS)
        return PreparedLines(csv=out.write_csv(include_header=False).encode())
    if dialect != "sqlite":
        raise NotImplementedError(f"statement lines are not stored on {dialect}")
    # the values every line of the batch shares are written into the statement, not bound per
    # row (binding is most of executemany's cost); the statement id is checked to be a UUID
    one = f"('{uuid.UUID(statement_id)}', 1, 0, {', '.join('?' for _ in FRAME_COLUMNS)})"
    insert_into = f"INSERT INTO statement_lines (statement_id, valid, excluded, {', '.join(FRAME_COLUMNS)}) VALUES "
    values = [frame[name].cast(pl.String).to_list() if name in ("effective_date", "expiration_date")
              else frame[name].to_list() for name in FRAME_COLUMNS]
    rows = list(zip(*values, strict=True))
    whole = len(rows) - len(rows) % ROWS_PER_INSERT
    statements = [(insert_into + ", ".join([one] * ROWS_PER_INSERT),
                   [tuple(itertools.chain.from_iterable(rows[i:i + ROWS_PER_INSERT]))
                    for i in range(0, whole, ROWS_PER_INSERT)])] if whole else []
    if whole < len(rows):
        statements.append((insert_into + one, rows[whole:]))
    return PreparedLines(statements=statements)


async def store_prepared(session: Any, prepared: PreparedLines | None) -> None:
    if prepared is None:
        return
    conn = await session.connection()
    if prepared.csv:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_to_table("statement_lines", source=io.BytesIO(prepared.csv),
                                                  columns=list(LINE_COLUMNS), format="csv")
    for sql, params in prepared.statements:
        await conn.exec_driver_sql(sql, params)
