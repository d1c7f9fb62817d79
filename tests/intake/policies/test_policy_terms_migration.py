"""Migration 0009 moves existing policies to explicit terms (issue 6): the per-term premiums postings
left become terms, a policy without any gets one term of its own, each term gets its estimated
agency commission, and a policy left showing next term's totals under this term's dates (the bug)
shows its current term, dates included. Downgrading keeps the posted terms."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from agency_common.db.engine import make_engine
from agency_common.db.migrate import alembic_config, upgrade
from agency_common.db.types import Money, Rate, UTCDateTime
from alembic import command

from tests.support.inprocess import service_defs

D = Decimal
POLICIES = sa.table(
    "policies", sa.column("id", sa.String()), sa.column("version", sa.Integer()), sa.column("carrier", sa.String()),
    sa.column("policy_number", sa.String()), sa.column("client_name", sa.String()),
    sa.column("created_by", sa.String()), sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()),
    sa.column("effective_date", sa.Date()), sa.column("expiration_date", sa.Date()),
    sa.column("estimated_premium", Money()), sa.column("annualized_premium", Money()),
    sa.column("billed_premium", Money()), sa.column("commission_rate", Rate()))
OLD_TERMS = sa.table(
    "policy_term_premiums", sa.column("policy_id", sa.String()), sa.column("term_start", sa.Date()),
    sa.column("term_end", sa.Date()), sa.column("annualized", Money()), sa.column("billed", Money()))
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def policy(pid: str, **kw) -> dict:
    return {"id": pid, "version": 1, "carrier": "Migco", "policy_number": pid, "client_name": f"Client {pid}",
            "created_by": "clerk", "created_at": NOW, "updated_at": NOW, "effective_date": date(2026, 1, 1),
            "expiration_date": date(2027, 1, 1), "estimated_premium": None, "annualized_premium": None,
            "billed_premium": None, "commission_rate": None} | kw


async def test_existing_policies_move_to_terms_and_show_their_current_one(databases) -> None:
    url = databases.new("intake")
    migrations = service_defs()["intake"].migrations
    await asyncio.to_thread(upgrade, migrations, url, "0009")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(POLICIES), [
                # posted into a renewal by the old rule: next term's totals, this term's dates
                policy("renewed", estimated_premium=D("1000.00"), commission_rate=D("0.15"),
                       annualized_premium=D("100.00"), billed_premium=D("100.00")),
                policy("fresh", estimated_premium=D("500.00"), commission_rate=D("0.10")),
                policy("bare", effective_date=None, expiration_date=None)])
            await conn.execute(sa.insert(OLD_TERMS), [
                {"policy_id": "renewed", "term_start": date(2026, 1, 1), "term_end": date(2027, 1, 1),
                 "annualized": D("900.00"), "billed": D("900.00")},
                {"policy_id": "renewed", "term_start": date(2027, 1, 1), "term_end": date(2028, 1, 1),
                 "annualized": D("100.00"), "billed": D("100.00")}])
        await asyncio.to_thread(upgrade, migrations, url, "head")

        async with engine.connect() as conn:
            terms = sa.table("policy_terms", sa.column("policy_id", sa.String()), sa.column("effective_date", sa.Date()),
                             sa.column("expiration_date", sa.Date()), sa.column("annualized_premium", Money()),
                             sa.column("estimated_agency_commission", Money()),
                             sa.column("billed_agency_commission", Money()))
            rows = (await conn.execute(sa.select(terms).order_by(terms.c.policy_id, terms.c.effective_date))).all()
            shown = sa.table("policies", sa.column("id", sa.String()), sa.column("effective_date", sa.Date()),
                             sa.column("expiration_date", sa.Date()), sa.column("annualized_premium", Money()),
                             sa.column("estimated_agency_commission", Money()))
            policies = {r.id: tuple(r)[1:] for r in (await conn.execute(sa.select(shown))).all()}
        assert [tuple(r) for r in rows] == [
            ("bare", None, None, None, None, None),
            ("fresh", date(2026, 1, 1), date(2027, 1, 1), None, D("50.00"), None),
            ("renewed", date(2026, 1, 1), date(2027, 1, 1), D("900.00"), D("135.00"), None),
            ("renewed", date(2027, 1, 1), date(2028, 1, 1), D("100.00"), D("15.00"), None)]
        assert policies == {
            "renewed": (date(2027, 1, 1), date(2028, 1, 1), D("100.00"), D("15.00")),
            "fresh": (date(2026, 1, 1), date(2027, 1, 1), None, D("50.00")), "bare": (None, None, None, None)}

        await asyncio.to_thread(command.downgrade, alembic_config(migrations, url), "0009")
        async with engine.connect() as conn:
            back = (await conn.execute(sa.select(OLD_TERMS).order_by(OLD_TERMS.c.term_start))).all()
        assert [(r.policy_id, r.annualized) for r in back] == [("renewed", D("900.00")), ("renewed", D("100.00"))]
    finally:
        await engine.dispose()
