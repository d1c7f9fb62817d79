"""Reads of statements and carrier profiles shared by the API, the pages and the use cases."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from intake.models import CarrierProfile, StatementLineRow
from intake.statements.domain.mapping import MappingProfile

LINES = StatementLineRow.__table__


async def carrier_default_rate(session: Any, carrier: str) -> Decimal | None:
    return await session.scalar(select(CarrierProfile.default_commission_rate).where(
        CarrierProfile.carrier == carrier))


async def load_profile(session: Any, carrier: str) -> MappingProfile:
    row = await session.get(CarrierProfile, carrier)
    if row is None:
        return MappingProfile()
    return MappingProfile.from_stored(json.loads(row.columns), json.loads(row.bill_types),
                                      json.loads(row.prefixes), row.sheet)


def line_conditions(statement_id: str, validity: str | None, match: str | None) -> list[Any]:
    conds = [LINES.c.statement_id == statement_id]
    if validity == "valid":
        conds.append(LINES.c.valid.is_(True))
    elif validity == "invalid":
        conds.append(LINES.c.valid.is_(False))
    if match:
        conds.append(LINES.c.match_status == match)
    return conds
