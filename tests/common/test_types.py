"""Money and time columns are exact on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from agency_common.db import Database, Money, Rate, UTCDateTime
from agency_common.money import round_money
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

metadata = MetaData()
amounts = Table(
    "amounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Money()),
    Column("rate", Rate()),
    Column("at", UTCDateTime()),
)


@pytest.fixture
async def db(databases):
    database = Database(databases.new("types"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def test_decimal_round_trip_is_exact(db: Database) -> None:
    total = Decimal("0.10") + Decimal("0.20")
    async with db.transaction() as s:
        await s.execute(insert(amounts), [
            {"id": 1, "amount": total, "rate": Decimal("0.125"), "at": datetime(2026, 7, 11, 10, 54, tzinfo=UTC)},
            {"id": 2, "amount": Decimal("-123.45"), "rate": Decimal("0.15"), "at": None},
            {"id": 3, "amount": Decimal("9999999999999.99"), "rate": Decimal(1), "at": None},
        ])
    async with db.session() as s:
        rows = dict((await s.execute(select(amounts.c.id, amounts.c.amount))).all())
        assert rows[1] == Decimal("0.30") and str(rows[1]) == "0.30"
        assert rows[2] == Decimal("-123.45")
        assert rows[3] == Decimal("9999999999999.99")
        assert await s.scalar(select(amounts.c.rate).where(amounts.c.id == 1)) == Decimal("0.125")
        # Sums in SQL stay exact too (SQLite stores cents as integers, PostgreSQL NUMERIC).
        total_sum = await s.scalar(select(func.sum(amounts.c.amount)))
        assert total_sum == Decimal("9999999999876.84")
        # Comparisons against a Decimal literal bind through the same type.
        assert await s.scalar(select(func.count()).where(amounts.c.amount == Decimal("0.30"))) == 1


async def test_refuses_floats_and_hidden_rounding(db: Database) -> None:
    with pytest.raises(Exception, match="float"):
        async with db.transaction() as s:
            await s.execute(insert(amounts), {"id": 1, "amount": 0.1})
    with pytest.raises(Exception, match="decimal places"):
        async with db.transaction() as s:
            await s.execute(insert(amounts), {"id": 1, "amount": Decimal("1.005")})
    assert round_money("1.005") == Decimal("1.01")  # rounding is explicit, half-up
    assert round_money("-1.005") == Decimal("-1.01")
    with pytest.raises(TypeError):
        round_money(0.1)  # type: ignore[arg-type]


async def test_timestamps_are_aware_utc(db: Database) -> None:
    eastern = timezone(timedelta(hours=-4))
    async with db.transaction() as s:
        await s.execute(insert(amounts), {"id": 1, "at": datetime(2026, 7, 11, 6, 54, tzinfo=eastern)})
    async with db.session() as s:
        at = await s.scalar(select(amounts.c.at))
    assert at == datetime(2026, 7, 11, 10, 54, tzinfo=UTC) and at.tzinfo is not None
    with pytest.raises(Exception, match="naive"):
        async with db.transaction() as s:
            await s.execute(insert(amounts), {"id": 2, "at": datetime(2026, 7, 11, 10, 54)})
