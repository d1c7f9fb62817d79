"""Writes of the book of business: a policy by hand, the clients of new policies (and their
individuals), Update Policies (by Carrier)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.intake import PoliciesUpdated, PolicyChange, PolicyCreated
from agency_common.db.engine import insert_ignoring_conflicts, one_of
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import func, insert, select, update

from intake.carriers.registry import require_carrier
from intake.chunking import CHUNK
from intake.domain.insured import Insured, classify_insured
from intake.domain.values import normalise_name
from intake.errors import Conflict, UseCaseError
from intake.individuals.usecases import individuals_for_clients
from intake.models import (
    Client,
    Policy,
    PolicyTerm,
    PolicyUpdateAudit,
)
from intake.policies.domain.premium import estimated_commission
from intake.policies.queries import policy_conditions
from intake.policies.schemas import NewPolicy, UpdateByCarrierRequest, snapshot
from intake.policies.terms import first_term_row
from intake.statements.queries import carrier_default_rate


class DuplicatePolicy(Conflict):
    pass


async def find_or_create_clients(tx: Transaction, insureds: Iterable[Insured],
                                 created: list[tuple[str, Insured]] | None = None) -> dict[str, tuple[str, str]]:
    """Normalised name → (client id, client name), creating the clients not found (executemany),
    each a person or an organisation. ``created``: the new clients are appended there and their
    individuals left to the caller (a caller working in chunks makes them once, at the end)."""
    wanted: dict[str, Insured] = {}
    for insured in insureds:
        wanted.setdefault(normalise_name(insured.name), insured)
    wanted.pop("", None)
    found: dict[str, tuple[str, str]] = {}
    keys = list(wanted)
    for i in range(0, len(keys), 500):
        rows = await tx.session.execute(select(Client.normalised_name, Client.id, Client.name).where(
            one_of(tx.session, Client.normalised_name, keys[i:i + 500])))
        found.update({n: (cid, name) for n, cid, name in rows.all()})
    missing = [{"id": str(uuid.uuid4()), "name": wanted[k].name, "normalised_name": k, "kind": wanted[k].kind,
                "created_by": tx.actor, "created_at": utcnow()} for k in keys if k not in found]
    ours: dict[str, tuple[str, str]] = {}
    add = insert_ignoring_conflicts(tx.session, Client.__table__).returning(
        Client.normalised_name, Client.id, Client.name)
    for i in range(0, len(missing), CHUNK):
        # another request may create the same new client meanwhile: its row wins, ours is skipped.
        # RETURNING names ours, so only the skipped ones are looked up again: looking up this
        # transaction's own new rows made PostgreSQL scan them (no statistics yet), 96 s of 110
        rows = await tx.session.execute(add, missing[i:i + CHUNK])
        ours.update({n: (cid, name) for n, cid, name in rows.all()})
    skipped = [row["normalised_name"] for row in missing if row["normalised_name"] not in ours]
    for i in range(0, len(skipped), 500):
        rows = await tx.session.execute(select(Client.normalised_name, Client.id, Client.name).where(
            one_of(tx.session, Client.normalised_name, skipped[i:i + 500])))
        found.update({n: (cid, name) for n, cid, name in rows.all()})
    new = [(cid, wanted[k]) for k, (cid, _name) in ours.items()]
    if created is not None:
        created.extend(new)
    else:
        await individuals_for_clients(tx, new)
    found.update(ours)
    return found


async def create_policy(tx: Transaction, data: NewPolicy) -> Policy:
    data = data.model_copy(update={"carrier": (await require_carrier(tx.session, data.carrier)).name})
    exists = await tx.session.scalar(
        select(func.count()).select_from(Policy).where(
            Policy.carrier == data.carrier, Policy.policy_number == data.policy_number
        )
    )
    if exists:
        raise DuplicatePolicy(f"policy {data.policy_number} already exists for carrier {data.carrier}")
    clients = await find_or_create_clients(tx, [classify_insured(data.client_name)])
    client = clients.get(normalise_name(data.client_name))
    premium = round_money(data.estimated_premium) if data.estimated_premium is not None else None
    rate = data.commission_rate if data.commission_rate is not None else await carrier_default_rate(
        tx.session, data.carrier)
    policy = Policy(
        **data.model_dump(exclude={"estimated_premium", "commission_rate"}),
        client_id=client[0] if client else None, estimated_premium=premium, commission_rate=rate,
        estimated_agency_commission=estimated_commission(premium, rate), created_by=tx.actor,
    )
    tx.session.add(policy)
    await tx.session.flush()
    await tx.session.execute(insert(PolicyTerm.__table__), [first_term_row(policy.model_dump())])
    await tx.emit(PolicyCreated(policy=snapshot(policy)))
    return policy


async def update_policies_by_carrier(tx: Transaction, req: UpdateByCarrierRequest) -> PolicyUpdateAudit:
    changes = {k: v for k, v in req.changes.model_dump().items() if v is not None and str(v).strip() != ""}
    if not changes:
        raise UseCaseError("choose at least one field to change")
    carrier = await require_carrier(tx.session, req.filter.carrier, for_new_work=False)
    req = req.model_copy(update={"filter": req.filter.model_copy(update={"carrier": carrier.name})})
    p = Policy.__table__
    ids = list((await tx.session.execute(select(p.c.id).where(*policy_conditions(req.filter)))).scalars())
    if not ids:
        raise UseCaseError(f"no policy of {carrier.name} matches these filters: nothing was changed")
    now = utcnow()
    changed = sorted(changes)
    for i in range(0, len(ids), BULK_CHUNK):
        chunk = ids[i:i + BULK_CHUNK]
        await tx.session.execute(update(p).where(p.c.id.in_(chunk)).values(
            **changes, version=p.c.version + 1, updated_at=now), execution_options={"synchronize_session": False})
        rows = (await tx.session.execute(select(p).where(p.c.id.in_(chunk)))).mappings().all()
        # a bulk edit: one event per chunk (issue 17)
        await tx.emit(PoliciesUpdated(changes=[PolicyChange(policy=snapshot(dict(r)), changed_fields=changed)
                                               for r in rows]))
    audit = PolicyUpdateAudit(carrier=req.filter.carrier, filters=req.filter.model_dump_json(exclude_none=True),
                              changes=json.dumps(changes), count=len(ids), updated_by=tx.actor, updated_at=now)
    tx.session.add(audit)
    await tx.session.flush()
    return audit
