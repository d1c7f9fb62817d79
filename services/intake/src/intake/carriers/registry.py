"""The carrier registry's use cases and queries."""

from __future__ import annotations

import json
from typing import Any

from agency_common.contracts.intake import CarrierRegistered, CarrierSnapshot, CarrierUpdated
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from agency_common.validation import NonBlankStr
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, or_, select

from intake.carriers.rules import carrier_key, closest, distinct_names, naic_problem, tidy_name
from intake.errors import Conflict, NotFound, UseCaseError
from intake.models import Carrier, CarrierAlias


class CarrierIn(BaseModel):
    name: NonBlankStr = Field(min_length=1, max_length=200)
    naic_code: str | None = Field(default=None, max_length=20, description="NAIC company code, 5 digits")
    aliases: list[str] = Field(default_factory=list, max_length=50, description="other spellings of the name")
    subordinates: list[str] = Field(default_factory=list, max_length=50)
    addresses: list[str] = Field(default_factory=list, max_length=20)


class CarrierEdit(BaseModel):
    """Everything but the canonical name (which policies and statements carry): add an alias instead."""

    naic_code: str | None = Field(default=None, max_length=20)
    aliases: list[str] | None = Field(default=None, max_length=50)
    subordinates: list[str] | None = Field(default=None, max_length=50)
    addresses: list[str] | None = Field(default=None, max_length=20)
    active: bool | None = None
    version: int | None = Field(default=None, description="the version you read: refused if it changed since")


class UnknownCarrier(UseCaseError):
    def __init__(self, typed: str, suggestions: list[str]) -> None:
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown carrier {typed!r}: register it under Carriers first, or add "
                         f"{typed!r} as an alias of a registered carrier.{hint}")
        self.typed = typed
        self.suggestions = suggestions


# -- queries ----------------------------------------------------------------------------------------
async def find_carrier(session: Any, typed: str) -> Carrier | None:
    """The carrier a typed name means (by name or alias, case- and space-insensitively), if any."""
    key = carrier_key(typed)
    if not key:
        return None
    carrier = (await session.execute(select(Carrier).where(Carrier.key == key))).scalar_one_or_none()
    if carrier is None:
        carrier = (await session.execute(select(Carrier).join(CarrierAlias, CarrierAlias.carrier_id == Carrier.id)
                                         .where(CarrierAlias.key == key))).scalar_one_or_none()
    return carrier


async def require_carrier(session: Any, typed: str | None, *, for_new_work: bool = True) -> Carrier:
    """The registered carrier a typed name means, or an error that names the closest ones.
    ``for_new_work``: an inactive carrier is refused (its old records stay readable)."""
    typed = tidy_name(typed or "")
    if not typed:
        raise UseCaseError("a carrier is required: pick one from the carrier registry")
    carrier = await find_carrier(session, typed)
    if carrier is None:
        raise UnknownCarrier(typed, closest(typed, await carrier_names(session)))
    if for_new_work and not carrier.active:
        raise UseCaseError(f"carrier {carrier.name!r} is inactive: reactivate it under Carriers to use it")
    return carrier


async def canonical_name(session: Any, typed: str) -> str:
    """A typed carrier name in a filter: its registered name, or as typed when it means none (the filter
    then finds nothing, and the caller may say so)."""
    carrier = await find_carrier(session, typed)
    return carrier.name if carrier is not None else tidy_name(typed)


async def carrier_names(session: Any, *, active_only: bool = True) -> list[str]:
    """Every registered carrier's name, for pick lists."""
    stmt = select(Carrier.name).order_by(Carrier.key)
    if active_only:
        stmt = stmt.where(Carrier.active.is_(True))
    return list((await session.execute(stmt)).scalars())


async def aliases_of(session: Any, carrier_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {cid: [] for cid in carrier_ids}
    if carrier_ids:
        rows = await session.execute(select(CarrierAlias.carrier_id, CarrierAlias.alias)
                                     .where(CarrierAlias.carrier_id.in_(carrier_ids)).order_by(CarrierAlias.key))
        for cid, alias in rows:
            out[cid].append(alias)
    return out


async def list_carriers(session: Any, *, q: str | None = None, include_inactive: bool = True,
                        limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    conds = []
    if q and q.strip():
        like = f"%{carrier_key(q)}%"
        conds.append(or_(Carrier.key.like(like), Carrier.naic_code == q.strip(),
                         Carrier.id.in_(select(CarrierAlias.carrier_id).where(CarrierAlias.key.like(like)))))
    if not include_inactive:
        conds.append(Carrier.active.is_(True))
    total = await session.scalar(select(func.count()).select_from(Carrier).where(*conds))
    rows = list((await session.execute(select(Carrier).where(*conds).order_by(Carrier.key)
                                       .limit(limit).offset(offset))).scalars())
    aliases = await aliases_of(session, [c.id for c in rows])
    return total or 0, [carrier_json(c, aliases[c.id]) for c in rows]


async def get_carrier(session: Any, carrier_id: str) -> tuple[Carrier, list[str]]:
    carrier = await session.get(Carrier, carrier_id)
    if carrier is None:
        raise NotFound(f"no carrier {carrier_id}")
    return carrier, (await aliases_of(session, [carrier.id]))[carrier.id]


def carrier_json(c: Carrier, aliases: list[str]) -> dict[str, Any]:
    return {"id": c.id, "version": c.version, "name": c.name, "naic_code": c.naic_code, "aliases": aliases,
            "subordinates": json.loads(c.subordinates), "addresses": json.loads(c.addresses), "active": c.active,
            "created_by": c.created_by, "created_at": c.created_at.isoformat(),
            "updated_by": c.updated_by, "updated_at": c.updated_at.isoformat()}


def snapshot(c: Carrier, aliases: list[str]) -> CarrierSnapshot:
    return CarrierSnapshot(carrier_id=c.id, version=c.version, name=c.name, aliases=aliases, naic_code=c.naic_code,
                           subordinates=json.loads(c.subordinates), addresses=json.loads(c.addresses),
                           active=c.active, updated_at=c.updated_at)


# -- use cases ---------------------------------------------------------------------------------------
async def register_carrier(tx: Transaction, data: CarrierIn) -> dict[str, Any]:
    """A new carrier, explicitly: refused when its name (or an alias) already means a registered one."""
    name = tidy_name(data.name)
    await _refuse_taken(tx.session, [name], None)
    carrier = Carrier(name=name, key=carrier_key(name), created_by=tx.actor, updated_by=tx.actor)
    _set_details(carrier, data.naic_code, data.subordinates, data.addresses)
    await _refuse_naic_taken(tx.session, carrier.naic_code, None)
    tx.session.add(carrier)
    await tx.session.flush()
    aliases = await _replace_aliases(tx.session, carrier, data.aliases)
    await tx.emit(CarrierRegistered(carrier=snapshot(carrier, aliases)))
    return carrier_json(carrier, aliases)


async def update_carrier(tx: Transaction, carrier_id: str, edit: CarrierEdit) -> dict[str, Any]:
    carrier = (await tx.session.execute(select(Carrier).where(Carrier.id == carrier_id)
                                        .with_for_update())).scalar_one_or_none()
    if carrier is None:
        raise NotFound(f"no carrier {carrier_id}")
    if edit.version is not None and edit.version != carrier.version:
        raise Conflict(f"carrier {carrier.name!r} was changed by {carrier.updated_by} since you read it: reload it")
    before = carrier_json(carrier, (await aliases_of(tx.session, [carrier.id]))[carrier.id])
    fields = edit.model_fields_set - {"version"}
    _set_details(carrier, edit.naic_code if "naic_code" in fields else carrier.naic_code,
                 edit.subordinates if edit.subordinates is not None else json.loads(carrier.subordinates),
                 edit.addresses if edit.addresses is not None else json.loads(carrier.addresses))
    await _refuse_naic_taken(tx.session, carrier.naic_code, carrier.id)
    if edit.active is not None:
        carrier.active = edit.active
    aliases = (await _replace_aliases(tx.session, carrier, edit.aliases) if edit.aliases is not None
               else before["aliases"])
    after = carrier_json(carrier, aliases)
    changed = [f for f in ("naic_code", "aliases", "subordinates", "addresses", "active") if before[f] != after[f]]
    if not changed:
        return before
    carrier.version += 1
    carrier.updated_by, carrier.updated_at = tx.actor, utcnow()
    await tx.session.flush()
    await tx.emit(CarrierUpdated(carrier=snapshot(carrier, aliases), changed_fields=changed))
    return carrier_json(carrier, aliases)


def _set_details(carrier: Carrier, naic_code: str | None, subordinates: list[str], addresses: list[str]) -> None:
    code = (naic_code or "").strip() or None
    if problem := naic_problem(code):
        raise UseCaseError(problem)
    too_long = [a for a in addresses if len(a) > 500] + [s for s in subordinates if len(s) > 200]
    if too_long:
        raise UseCaseError(f"too long (addresses up to 500 characters, names up to 200): {too_long[0][:40]!r}…")
    carrier.naic_code = code
    carrier.subordinates = json.dumps(distinct_names(subordinates))
    carrier.addresses = json.dumps([a.strip() for a in addresses if a.strip()])


async def _refuse_taken(session: Any, names: list[str], own_id: str | None) -> None:
    for name in names:
        other = await find_carrier(session, name)
        if other is not None and other.id != own_id:
            how = "is" if carrier_key(other.name) == carrier_key(name) else "is an alias of"
            raise Conflict(f"{name!r} {how} the registered carrier {other.name!r}")


async def _refuse_naic_taken(session: Any, code: str | None, own_id: str | None) -> None:
    if code is None:
        return
    other = (await session.execute(select(Carrier).where(Carrier.naic_code == code))).scalar_one_or_none()
    if other is not None and other.id != own_id:
        raise Conflict(f"NAIC company code {code} belongs to the registered carrier {other.name!r}")


async def _replace_aliases(session: Any, carrier: Carrier, aliases: list[str]) -> list[str]:
    wanted = [a for a in distinct_names(aliases) if carrier_key(a) != carrier.key]
    if too_long := [a for a in wanted if len(a) > 200]:
        raise UseCaseError(f"an alias is up to 200 characters: {too_long[0][:40]!r}…")
    await session.execute(delete(CarrierAlias).where(CarrierAlias.carrier_id == carrier.id))
    await session.flush()
    await _refuse_taken(session, wanted, carrier.id)
    session.add_all([CarrierAlias(key=carrier_key(a), alias=a, carrier_id=carrier.id) for a in wanted])
    await session.flush()
    return sorted(wanted, key=carrier_key)
