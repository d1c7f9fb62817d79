"""The carriers a reconciliation is opened against: intake's registry as a read model.

A typed carrier name (an API call) means a registered carrier by its name or an alias, case- and
space-insensitively; before the registry's events reach invoicing, the carriers of known policies
(which carry registered names) are accepted too. Nothing here creates a carrier."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import CarrierSnapshot, carrier_key
from agency_common.outbox import Transaction
from sqlalchemy import delete, func, select

from invoicing.models import CarrierKey, CarrierView, PolicyView


@dataclass(frozen=True)
class KnownCarrier:
    name: str
    subordinates: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    naic_code: str | None = None
    active: bool = True


async def on_carrier_events(tx: Transaction, events: list[Envelope[Any]]) -> None:
    """Registered or changed carriers: the newest version of each wins."""
    for snap in (e.payload.carrier for e in events):
        await _upsert(tx.session, snap)


async def _upsert(session: Any, snap: CarrierSnapshot) -> None:
    row = await session.get(CarrierView, snap.carrier_id)
    if row is not None and row.version >= snap.version:
        return
    values = {"version": snap.version, "name": snap.name, "naic_code": snap.naic_code, "active": snap.active,
              "subordinates": json.dumps(snap.subordinates), "addresses": json.dumps(snap.addresses),
              "updated_at": snap.updated_at}
    if row is None:
        session.add(CarrierView(carrier_id=snap.carrier_id, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)
    keys = sorted({carrier_key(n) for n in [snap.name, *snap.aliases]})
    await session.execute(delete(CarrierKey).where(
        (CarrierKey.carrier_id == snap.carrier_id) | CarrierKey.key.in_(keys)))
    session.add_all([CarrierKey(key=k, carrier_id=snap.carrier_id) for k in keys])
    await session.flush()


def _known(row: CarrierView) -> KnownCarrier:
    return KnownCarrier(row.name, json.loads(row.subordinates), json.loads(row.addresses), row.naic_code, row.active)


async def find_carrier(session: Any, typed: str) -> KnownCarrier | None:
    key = carrier_key(typed or "")
    if not key:
        return None
    row = (await session.execute(select(CarrierView).join(CarrierKey, CarrierKey.carrier_id == CarrierView.carrier_id)
                                 .where(CarrierKey.key == key))).scalar_one_or_none()
    if row is not None:
        return _known(row)
    name = (await session.execute(select(PolicyView.carrier).where(func.lower(PolicyView.carrier) == key)
                                  .limit(1))).scalar_one_or_none()
    return KnownCarrier(name) if name is not None else None


async def pick_list(session: Any) -> list[dict[str, Any]]:
    """Every active registered carrier (and any carrier of a known policy not yet registered here), by name."""
    rows = (await session.execute(select(CarrierView).where(CarrierView.active.is_(True))
                                  .order_by(func.lower(CarrierView.name)))).scalars().all()
    out = {carrier_key(r.name): {"name": r.name, "subordinates": json.loads(r.subordinates),
                                 "addresses": json.loads(r.addresses), "naic_code": r.naic_code} for r in rows}
    inactive = set((await session.execute(select(func.lower(CarrierView.name))
                                          .where(CarrierView.active.is_(False)))).scalars())
    for name in (await session.execute(select(PolicyView.carrier).distinct().limit(1000))).scalars():
        if carrier_key(name) not in out and carrier_key(name) not in inactive:
            out[carrier_key(name)] = {"name": name, "subordinates": [], "addresses": [], "naic_code": None}
    return sorted(out.values(), key=lambda c: carrier_key(c["name"]))
