"""People (other) commissions on a row, and the per-carrier people defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import delete, insert, select, update

from invoicing.domain.commission import (
    RATE_TYPES,
    EntryError,
    parse_money,
    parse_rate,
    people_commission_amount,
)
from invoicing.errors import Conflict, Invalid, NotFound
from invoicing.models import (
    PeopleCommissionDefault,
)
from invoicing.policy_view.carriers import find_carrier
from invoicing.reconciliations.locking import lock, require_live
from invoicing.statement_entry.queries import other_json
from invoicing.statement_entry.schemas import OtherCommissionIn, PeopleDefaultIn
from invoicing.tables import INV, OC, PV, ZERO, E

COMMISSION_ON = "agency commission"


async def add_other_commission(tx: Transaction, rec_id: str, entry_id: int, data: OtherCommissionIn) -> dict[str, Any]:
    rec = await lock(tx, rec_id)
    require_live(rec)
    row = (await tx.session.execute(select(E, PV.c.line_of_business.label("pv_lob")).select_from(
        E.outerjoin(PV, PV.c.policy_id == E.c.policy_id)).where(
        E.c.id == entry_id, E.c.reconciliation_id == rec_id))).one_or_none()
    if row is None:
        raise NotFound(f"row {entry_id} not found")
    if await tx.session.scalar(select(INV.c.id).where(INV.c.entry_id == entry_id)):
        raise Conflict("row already invoiced")
    level = row.pv_lob or row.line_of_business
    errors: dict[str, str] = {}
    if data.commission_on and data.commission_on != COMMISSION_ON:
        errors["commission_on"] = f"comes from the policy ({COMMISSION_ON}) and cannot be changed"
    if data.level_lob and data.level_lob != level:
        errors["level_lob"] = f"comes from the policy ({level}) and cannot be changed"
    default = (await tx.session.execute(select(PeopleCommissionDefault).where(
        PeopleCommissionDefault.carrier == rec.carrier,
        PeopleCommissionDefault.employee == data.employee))).scalar_one_or_none()
    role = data.production_role or (default.production_role if default else None)
    rate_type = data.rate_type or (default.rate_type if default else None)
    if not role:
        errors["production_role"] = "required (no default for this employee and carrier)"
    if rate_type not in RATE_TYPES:
        errors["rate_type"] = f"must be one of {', '.join(RATE_TYPES)}"
        rate_type = "percent"
    try:
        rate = parse_rate(data.rate, rate_type) if data.rate not in (None, "") else (default.rate if default else None)
        if rate is None:
            errors["rate"] = "required (no default for this employee and carrier)"
    except EntryError as exc:
        errors["rate"], rate = exc.message, None
    try:
        credit = parse_money(data.production_credit, "production_credit")
    except EntryError as exc:
        errors["production_credit"], credit = exc.message, None
    if credit is None and "production_credit" not in errors:
        commission = row.commission_paid or ZERO
        share = default.credit_share if default and default.credit_share is not None else Decimal(1)
        credit = round_money(commission * share)
    if errors:
        raise Invalid("the other commission has errors", {"other_commission": errors})
    assert credit is not None and rate is not None and role is not None
    values = {"reconciliation_id": rec_id, "entry_id": entry_id, "employee": data.employee, "production_role": role,
              "commission_on": COMMISSION_ON, "level_lob": level, "production_credit": credit,
              "rate_type": rate_type, "rate": rate, "amount": people_commission_amount(credit, rate_type, rate),
              "created_at": utcnow(), "created_by": tx.actor}
    new_id = (await tx.session.execute(insert(OC).values(**values).returning(OC.c.id))).scalar_one()
    await tx.session.execute(update(E).where(E.c.id == entry_id).values(version=E.c.version + 1))
    return other_json((await tx.session.execute(select(OC).where(OC.c.id == new_id))).one())


async def remove_other_commission(tx: Transaction, rec_id: str, other_id: int) -> None:
    rec = await lock(tx, rec_id)
    require_live(rec)
    oc = (await tx.session.execute(select(OC).where(OC.c.id == other_id, OC.c.reconciliation_id == rec_id))).one_or_none()
    if oc is None:
        raise NotFound(f"other commission {other_id} not found")
    if await tx.session.scalar(select(INV.c.id).where(INV.c.entry_id == oc.entry_id)):
        raise Conflict("row already invoiced")
    await tx.session.execute(delete(OC).where(OC.c.id == other_id))
    await tx.session.execute(update(E).where(E.c.id == oc.entry_id).values(version=E.c.version + 1))


async def set_people_default(tx: Transaction, carrier: str, employee: str, data: PeopleDefaultIn) -> dict[str, Any]:
    known = await find_carrier(tx.session, carrier)
    if known is None:
        raise Invalid(f"carrier {carrier!r} is not registered", {
            "carrier": f"{carrier!r} is not registered: pick a carrier registered under intake's Carriers"})
    carrier = known.name
    try:
        rate = parse_rate(data.rate, data.rate_type)
        share = parse_rate(data.credit_share, "percent", "credit_share") if data.credit_share else None
    except EntryError as exc:
        raise Invalid("invalid default", {exc.field: exc.message}) from None
    current = (await tx.session.execute(select(PeopleCommissionDefault).where(
        PeopleCommissionDefault.carrier == carrier, PeopleCommissionDefault.employee == employee))).scalar_one_or_none()
    if current is None:
        current = PeopleCommissionDefault(carrier=carrier, employee=employee, production_role=data.production_role,
                                          rate_type=data.rate_type, rate=rate, credit_share=share,
                                          updated_at=utcnow(), updated_by=tx.actor)
        tx.session.add(current)
    else:
        current.production_role, current.rate_type, current.rate = data.production_role, data.rate_type, rate
        current.credit_share, current.updated_at, current.updated_by = share, utcnow(), tx.actor
    await tx.session.flush()
    return current.model_dump(mode="json")
