"""Writes of individuals (seed 001): by hand, from the CRM, from policy clients; saved searches;
a sales record edited or converted back to its individual."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import date
from typing import Any

from agency_common.errors import Forbidden
from agency_common.outbox import Transaction
from agency_common.pii import PiiCipher
from agency_common.timeutil import utcnow
from sqlalchemy import insert, select

from intake.domain.insured import PERSON, Insured
from intake.errors import Conflict, NotFound, UseCaseError
from intake.individuals.domain.fields import (
    CARRIED_FIELDS,
    DATE_FIELDS,
    PII_FIELDS,
    changed_fields,
    merge_back,
    storage_key,
)
from intake.individuals.pii import clear_values, encrypt_field, storage_values
from intake.individuals.schemas import IndividualIn, SavedSearchChange, SearchCriteria
from intake.models import Individual, IndividualAudit, Policy, SalesRecord, SavedSearch

IND = Individual.__table__
SR = SalesRecord.__table__
POL = Policy.__table__


async def create_individual(tx: Transaction, data: IndividualIn, cipher: PiiCipher,
                            external_id: str | None = None, version: int = 1) -> Individual:
    ind = Individual(**storage_values(data, cipher), external_id=external_id, version=version,
                     custom_fields=json.dumps([c.model_dump(mode="json") for c in data.custom_fields]),
                     created_by=tx.actor)
    tx.session.add(ind)
    await tx.session.flush()
    return ind


async def update_individual(tx: Transaction, individual_id: str, data: IndividualIn, cipher: PiiCipher) -> Individual:
    ind = await tx.session.get(Individual, individual_id)
    if ind is None:
        raise NotFound("no such individual")
    for k, v in storage_values(data, cipher, only_set=True).items():
        setattr(ind, k, v)
    if "custom_fields" in data.model_fields_set:
        ind.custom_fields = json.dumps([c.model_dump(mode="json") for c in data.custom_fields])
    ind.version += 1
    ind.updated_at = utcnow()
    # who changed which fields; the names only, never the (possibly PII) values
    tx.session.add(IndividualAudit(individual_id=ind.id, action="update", actor=tx.actor,
                                   details=json.dumps({"fields": sorted(data.model_fields_set)})))
    await tx.session.flush()
    return ind


async def edit_individual(tx: Transaction, individual_id: str, data: IndividualIn, cipher: PiiCipher, *,
                          version: int | None = None, keep: Collection[str] = ()) -> tuple[Individual, list[str]]:
    """An individual's form saved: only the fields whose value changed are written (and named in the
    trail); ``keep`` are the fields the user saw masked, left as they are when left blank. Refused when
    someone saved the individual since the form was opened (``version``): nothing is overwritten unseen."""
    ind = await tx.session.get(Individual, individual_id)
    if ind is None:
        raise NotFound("no such individual")
    if version is not None and ind.version != version:
        raise Conflict(f"someone saved this individual since you opened the form (it is now version {ind.version}, "
                       f"you opened version {version}): open it again to see their changes, then edit")
    before = clear_values(ind, cipher)
    for f in DATE_FIELDS:
        before[f] = before[f].isoformat() if isinstance(before[f], date) else before[f]
    after = data.model_dump(mode="json", exclude={"custom_fields"})
    for f in keep:
        if not after.get(f):
            after.pop(f, None)
    changed = changed_fields(before, after)
    if [c.model_dump(mode="json") for c in data.custom_fields] != json.loads(ind.custom_fields):
        changed.append("custom_fields")
    if not changed:
        return ind, []
    update = IndividualIn.model_construct(_fields_set=set(changed), **{f: getattr(data, f) for f in changed})
    return await update_individual(tx, ind.id, update, cipher), sorted(changed)


async def upsert_from_crm(tx: Transaction, external_id: str, version: int, fields: dict[str, Any],
                          custom: dict[str, Any], cipher: PiiCipher) -> Individual | None:
    """An individual from the CRM; an older version never overwrites a newer one."""
    known = set(IndividualIn.model_fields) - {"custom_fields"}
    # {name: value} (text), {name: {type, value}} or [{name, type, value}]
    customs = [{"name": k, **c} if isinstance(c, dict) and "type" in c else {"name": k, "type": "text", "value": c}
               for k, c in custom.items()] if isinstance(custom, dict) else list(custom)
    data = IndividualIn.model_validate({**{k: v for k, v in fields.items() if k in known}, "custom_fields": customs})
    ind = (await tx.session.execute(select(Individual).where(Individual.external_id == external_id))).scalar_one_or_none()
    if ind is None:
        return await create_individual(tx, data, cipher, external_id=external_id, version=version)
    if version <= ind.version:
        return None
    for k, v in storage_values(data, cipher).items():
        setattr(ind, k, v)
    ind.custom_fields = json.dumps([c.model_dump(mode="json") for c in data.custom_fields])
    ind.version, ind.updated_at = version, utcnow()
    await tx.session.flush()
    return ind


async def save_search(tx: Transaction, name: str, criteria: SearchCriteria) -> SavedSearch:
    s = SavedSearch(name=name.strip() or "search", criteria=criteria.model_dump_json(exclude_none=True), owner=tx.actor)
    tx.session.add(s)
    await tx.session.flush()
    return s


async def _own_search(tx: Transaction, search_id: str, may_manage: bool) -> SavedSearch:
    s = await tx.session.get(SavedSearch, search_id)
    if s is None:
        raise NotFound("no such saved search")
    if s.owner != tx.actor and not may_manage:
        raise Forbidden(f"only {s.owner}, who saved “{s.name}”, or a user with searches:manage may change it")
    return s


async def change_search(tx: Transaction, search_id: str, change: SavedSearchChange, *,
                        may_manage: bool = False) -> SavedSearch:
    """A saved search renamed or given other criteria, by its owner (or a manager of searches); the values
    before and after go to the audit trail (the sales-record jobs it ran keep their own criteria)."""
    s = await _own_search(tx, search_id, may_manage)
    before = {"name": s.name, "criteria": json.loads(s.criteria)}
    if change.name is not None:
        s.name = change.name
    if change.criteria is not None:
        s.criteria = change.criteria.model_dump_json(exclude_none=True)
    after = {"name": s.name, "criteria": json.loads(s.criteria)}
    if after != before:
        await tx.audit("saved_search.changed", subject_type="saved_search", subject_id=s.id,
                       detail={"before": before, "after": after, "owner": s.owner})
    await tx.session.flush()
    return s


async def delete_search(tx: Transaction, search_id: str, *, may_manage: bool = False) -> None:
    """A saved search removed by its owner (or a manager of searches); what it was stays in the audit trail."""
    s = await _own_search(tx, search_id, may_manage)
    await tx.audit("saved_search.deleted", subject_type="saved_search", subject_id=s.id,
                   detail={"name": s.name, "criteria": json.loads(s.criteria), "owner": s.owner})
    await tx.session.delete(s)
    await tx.session.flush()


async def update_sales_record(tx: Transaction, record_id: str, changes: dict[str, Any], cipher: PiiCipher) -> SalesRecord:
    rec = await tx.session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("no such sales record")
    unknown = [k for k in changes if k not in CARRIED_FIELDS]
    if unknown:
        raise UseCaseError(f"not a sales record field: {', '.join(unknown)}")
    stored = json.loads(rec.fields)
    for f, v in changes.items():
        stored[storage_key(f)] = encrypt_field(cipher, f, v)
    rec.fields = json.dumps(stored)
    # a sales record belongs to its individual: its edits join the individual's trail (field names only)
    tx.session.add(IndividualAudit(individual_id=rec.individual_id, action="sales_record_update", actor=tx.actor,
                                   details=json.dumps({"sales_record_id": rec.id, "fields": sorted(changes)})))
    await tx.session.flush()
    return rec


async def edit_sales_record(tx: Transaction, record_id: str, data: IndividualIn, cipher: PiiCipher, *,
                            keep: Collection[str] = ()) -> tuple[SalesRecord, list[str]]:
    """A sales record's form saved: only the carried fields whose value changed are written (and named in
    its individual's trail); ``keep`` as for an individual's form."""
    rec = await tx.session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("no such sales record")
    stored = json.loads(rec.fields)
    before = {f: cipher.decrypt(v) if f in PII_FIELDS and v else v
              for f in CARRIED_FIELDS for v in (stored.get(storage_key(f)),)}
    after = data.model_dump(mode="json", include=set(CARRIED_FIELDS))
    for f in keep:
        if not after.get(f):
            after.pop(f, None)
    changed = changed_fields(before, after)
    if not changed:
        return rec, []
    return await update_sales_record(tx, record_id, {f: after[f] for f in changed}, cipher), sorted(changed)


async def convert_to_individual(tx: Transaction, record_id: str, cipher: PiiCipher) -> tuple[Individual, list[str], list[str]]:
    rec = await tx.session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("no such sales record")
    ind = await tx.session.get(Individual, rec.individual_id)
    if ind is None:
        raise Conflict("the linked individual does not exist")
    stored = json.loads(rec.fields)
    theirs = {f: (cipher.decrypt(stored.get(storage_key(f))) if f in PII_FIELDS and stored.get(storage_key(f))
                  else stored.get(storage_key(f))) for f in CARRIED_FIELDS}
    mine = clear_values(ind, cipher)
    for k in ("medicare_part_a", "medicare_part_b"):
        mine[k] = mine[k].isoformat() if mine[k] else None
    own_custom = json.loads(ind.custom_fields)
    changes, custom, conflicts = merge_back(mine, own_custom, theirs, json.loads(rec.custom_fields))
    custom_added = [c.get("name") for c in custom[len(own_custom):]]
    for f, v in changes.items():
        if f in ("medicare_part_a", "medicare_part_b"):
            v = date.fromisoformat(v)
        setattr(ind, storage_key(f), encrypt_field(cipher, f, v))
    ind.custom_fields = json.dumps(custom)
    ind.version += 1
    ind.updated_at = utcnow()
    rec.converted_by, rec.converted_at = tx.actor, utcnow()
    tx.session.add(IndividualAudit(individual_id=ind.id, action="convert_to_individual", actor=tx.actor,
                                   details=json.dumps({"sales_record_id": rec.id, "filled": sorted(changes),
                                                       "custom_fields_added": custom_added,
                                                       "conflicts_kept_individual": conflicts})))
    await tx.session.flush()
    return ind, sorted(changes), conflicts


async def individuals_for_clients(tx: Transaction, clients: list[tuple[str, Insured]]) -> None:
    """Policy clients that are people become individuals (first and last name as the name was
    classified); an organisation is no individual."""
    clients = [(cid, insured) for cid, insured in clients if insured.kind == PERSON]
    if not clients:
        return
    ids = [cid for cid, _ in clients]
    have = set()
    for i in range(0, len(ids), 500):
        have |= set((await tx.session.execute(select(IND.c.client_id).where(IND.c.client_id.in_(ids[i:i + 500])))).scalars())
    now = utcnow()
    rows = []
    for cid, insured in clients:
        if cid in have:
            continue
        rows.append({"id": str(uuid.uuid4()), "version": 1, "client_id": cid, "first_name": insured.first_name,
                     "last_name": insured.last_name, "title": insured.title, "record_status": "active", "custom_fields": "[]", "created_by": tx.actor, "created_at": now,
                     "updated_at": now})
    for i in range(0, len(rows), 1000):
        await tx.session.execute(insert(IND), rows[i:i + 1000])
