"""intake's use cases: called alike from HTTP routes and event consumers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from agency_common.contracts.intake import PolicyCreated, PolicySessionCreated, PolicySnapshot, PolicyUpdated
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from agency_common.validation import NonBlankStr
from pydantic import BaseModel, Field
from sqlalchemy import and_, bindparam, delete, func, insert, select, update

from intake.carriers.registry import require_carrier
from intake.domain.mapping import BILL_TYPES, FIELDS, MappingProfile, validate_profile
from intake.domain.premium import TermTotals, apply_posting, policy_totals
from intake.domain.values import normalise_name
from intake.errors import Conflict, NotFound, UseCaseError
from intake.models import (
    CarrierProfile,
    Client,
    Policy,
    PolicySession,
    PolicyTermPremium,
    PolicyUpdateAudit,
    Statement,
    StatementLineRow,
)

CHUNK = 1000


class DuplicatePolicy(Conflict):
    pass


# -- policies ---------------------------------------------------------------------------------------
class NewPolicy(BaseModel):
    """A policy created by hand (it belongs to no Create-Policies session)."""

    carrier: NonBlankStr = Field(min_length=1, max_length=200)
    policy_number: NonBlankStr = Field(min_length=1, max_length=100)
    client_name: NonBlankStr = Field(min_length=1, max_length=300)
    line_of_business: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default="active", max_length=50)
    effective_date: date | None = None
    expiration_date: date | None = None
    estimated_premium: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)


POLICY_SNAPSHOT_FIELDS = (
    "carrier", "policy_number", "client_id", "client_name", "bill_to_name", "line_of_business",
    "business_type", "mode", "status", "effective_date", "expiration_date", "estimated_premium",
    "annualized_premium", "billed_premium", "commission_rate", "branch", "department", "unit",
    "servicing_agent", "session_id", "updated_at",
)


def snapshot(policy: Any) -> PolicySnapshot:
    """From a Policy object or a Core row mapping."""
    get = (lambda k: policy[k]) if isinstance(policy, dict) else (lambda k: getattr(policy, k))
    data = {k: get(k) for k in POLICY_SNAPSHOT_FIELDS}
    data["commission_rate_type"] = "percent" if data["commission_rate"] is not None else None
    return PolicySnapshot(policy_id=get("id"), version=get("version"), **data)


def policy_json(policy: Any) -> dict[str, Any]:
    get = (lambda k: policy[k]) if isinstance(policy, dict) else (lambda k: getattr(policy, k))
    return snapshot(policy).model_dump(mode="json") | {"created_by": get("created_by")}


async def find_or_create_clients(tx: Transaction, names: Iterable[str],
                                 created: list[tuple[str, str]] | None = None) -> dict[str, tuple[str, str]]:
    """Normalised name → (client id, client name), creating the clients not found (executemany).
    ``created``: the new clients are appended there and their individuals left to the caller (a
    caller working in chunks makes them once, at the end)."""
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(normalise_name(name), name.strip())
    wanted.pop("", None)
    found: dict[str, tuple[str, str]] = {}
    keys = list(wanted)
    for i in range(0, len(keys), 500):
        rows = await tx.session.execute(select(Client.normalised_name, Client.id, Client.name).where(
            Client.normalised_name.in_(keys[i:i + 500])))
        found.update({n: (cid, name) for n, cid, name in rows.all()})
    missing = [{"id": str(uuid.uuid4()), "name": wanted[k], "normalised_name": k, "created_by": tx.actor,
                "created_at": utcnow()} for k in keys if k not in found]
    for i in range(0, len(missing), CHUNK):
        await tx.session.execute(insert(Client.__table__), missing[i:i + CHUNK])
    if created is not None:
        created.extend((row["id"], row["name"]) for row in missing)
    else:
        from intake.individuals import individuals_for_clients

        await individuals_for_clients(tx, [(row["id"], row["name"]) for row in missing])
    found.update({row["normalised_name"]: (row["id"], row["name"]) for row in missing})
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
    clients = await find_or_create_clients(tx, [data.client_name])
    client = clients.get(normalise_name(data.client_name))
    policy = Policy(
        **data.model_dump(exclude={"estimated_premium"}),
        client_id=client[0] if client else None,
        estimated_premium=round_money(data.estimated_premium) if data.estimated_premium is not None else None,
        created_by=tx.actor,
    )
    tx.session.add(policy)
    await tx.session.flush()
    await tx.emit(PolicyCreated(policy=snapshot(policy)))
    return policy


# -- carrier profiles ------------------------------------------------------------------------------
class ProfileIn(BaseModel):
    columns: dict[str, str] = {}
    bill_types: dict[str, str] = {}
    prefixes: list[str] = []
    sheet: str | None = None


async def load_profile(session: Any, carrier: str) -> MappingProfile:
    row = await session.get(CarrierProfile, carrier)
    if row is None:
        return MappingProfile()
    return MappingProfile.from_stored(json.loads(row.columns), json.loads(row.bill_types),
                                      json.loads(row.prefixes), row.sheet)


async def save_profile(tx: Transaction, carrier: str, data: ProfileIn) -> CarrierProfile:
    carrier = (await require_carrier(tx.session, carrier, for_new_work=False)).name
    bill_types = {k.strip().upper(): v.strip() for k, v in data.bill_types.items() if k.strip()}
    columns = {k: v.strip() for k, v in data.columns.items() if v and v.strip()}
    problems = validate_profile(columns, bill_types)
    if problems:
        raise UseCaseError("; ".join(problems))
    row = await tx.session.get(CarrierProfile, carrier)
    if row is None:
        row = CarrierProfile(carrier=carrier, updated_by=tx.actor)
        tx.session.add(row)
    row.columns = json.dumps(columns)
    row.bill_types = json.dumps(bill_types)
    row.prefixes = json.dumps([p.strip() for p in data.prefixes if p.strip()])
    row.sheet = (data.sheet or "").strip() or None
    row.updated_by, row.updated_at = tx.actor, utcnow()
    await tx.session.flush()
    return row


def profile_json(carrier: str, row: CarrierProfile | None) -> dict[str, Any]:
    if row is None:
        return {"carrier": carrier, "columns": {}, "bill_types": {}, "prefixes": [], "sheet": None,
                "fields": list(FIELDS), "bill_type_values": list(BILL_TYPES)}
    return {"carrier": carrier, "columns": json.loads(row.columns), "bill_types": json.loads(row.bill_types),
            "prefixes": json.loads(row.prefixes), "sheet": row.sheet, "updated_by": row.updated_by,
            "updated_at": row.updated_at.isoformat(), "fields": list(FIELDS), "bill_type_values": list(BILL_TYPES)}


# -- Create Policies (seed 000) --------------------------------------------------------------------
POLICY_DEFAULT_FIELDS = ("line_of_business", "business_type", "mode", "status", "branch", "department", "unit",
                         "servicing_agent")


class PolicyDefaults(BaseModel):
    line_of_business: str | None = Field(default=None, max_length=100)  # the policy type
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    status: str | None = Field(default="active", max_length=50)
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=100)


class LineOverride(PolicyDefaults):
    status: str | None = Field(default=None, max_length=50)
    client_name: str | None = Field(default=None, max_length=300)
    policy_number: str | None = Field(default=None, max_length=100)


class CreatePoliciesRequest(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    defaults: PolicyDefaults = PolicyDefaults()
    overrides: dict[int, LineOverride] = {}  # by line number
    line_nos: list[int] | None = None  # None: every unmatched line


Progress = Callable[[int, int], Awaitable[None]]


async def create_policies(tx: Transaction, statement_id: str, req: CreatePoliciesRequest,
                          auto_publish: bool = False, *, chunk: int = CHUNK,
                          progress: Progress | None = None) -> tuple[PolicySession, bool]:
    """One transaction: the policies of the statement's unmatched lines (one per normalised policy
    number), their clients (found or created by normalised name), and one session. Returns the
    session and whether it was created now (False: the idempotency key was seen before).

    Written in chunks of ``chunk`` policies (clients, policies, lines, events), handing the event
    loop back between chunks; ``progress(done, total)`` is awaited after each chunk."""
    existing = await session_for_key(tx.session, req.idempotency_key)
    if existing is not None:
        if existing.statement_id != statement_id:
            raise Conflict("this idempotency key was used for another statement")
        return existing, False
    statement = await tx.session.get(Statement, statement_id)
    if statement is None:
        raise NotFound("no such statement")
    if statement.status not in ("imported",):
        raise Conflict(f"statement is {statement.status}: policies are created from an imported statement")
    await require_carrier(tx.session, statement.carrier)  # a feed's unknown carrier: never a policy by accident
    t = StatementLineRow.__table__
    stmt = select(t.c.id, t.c.line_no, t.c.policy_number, t.c.normalised_number, t.c.insured_name,
                  t.c.line_of_business, t.c.effective_date, t.c.expiration_date, t.c.premium,
                  t.c.commission_rate).where(
        t.c.statement_id == statement_id, t.c.valid.is_(True), t.c.match_status == "unmatched").order_by(t.c.line_no)
    chosen = set(req.line_nos) if req.line_nos is not None else None
    groups: dict[str, list[dict[str, Any]]] = {}
    # read in partitions, handing the event loop back between them (a large statement)
    result = await tx.session.stream(stmt.execution_options(yield_per=chunk))
    async for part in result.mappings().partitions(chunk):
        for r in part:
            if chosen is not None and r["line_no"] not in chosen:
                continue
            ov = req.overrides.get(r["line_no"])
            number = (ov.policy_number if ov and ov.policy_number else r["policy_number"]) or ""
            key = r["normalised_number"] if not (ov and ov.policy_number) else number.strip().upper()
            groups.setdefault(key, []).append(dict(r) | {"_override": ov, "_number": number.strip()})
        await asyncio.sleep(0)
    if not groups:
        raise UseCaseError("no unmatched lines to create policies from")
    defaults = req.defaults.model_dump()
    problems: list[str] = []
    session_id = str(uuid.uuid4())
    now = utcnow()
    policies: list[dict[str, Any]] = []
    line_ids: list[list[int]] = []  # per policy, its lines
    for n, group in enumerate(groups.values()):
        if n % chunk == chunk - 1:
            await asyncio.sleep(0)
        first = group[0]
        ov: LineOverride | None = next((g["_override"] for g in group if g["_override"]), None)
        name = (ov.client_name if ov and ov.client_name else first["insured_name"]) or ""
        if not name.strip():
            problems.append(f"line {first['line_no']}: no insured name (give a client name override)")
            continue
        fields = {k: (getattr(ov, k) if ov and getattr(ov, k) else defaults.get(k)) for k in POLICY_DEFAULT_FIELDS}
        if not fields["line_of_business"]:
            fields["line_of_business"] = first["line_of_business"]
        policies.append({
            "id": str(uuid.uuid4()), "version": 1, "carrier": statement.carrier, "policy_number": first["_number"],
            "client_name": name.strip(), "client_id": None, "bill_to_name": None, **fields,
            "effective_date": first["effective_date"], "expiration_date": first["expiration_date"],
            "estimated_premium": first["premium"], "annualized_premium": None, "billed_premium": None,
            "commission_rate": first["commission_rate"], "session_id": session_id, "created_by": tx.actor,
            "created_at": now, "updated_at": now,
        })
        line_ids.append([g["id"] for g in group])
    del groups
    if problems:
        raise UseCaseError("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
    total = len(policies)
    if progress is not None:
        await progress(0, total)
    upd = update(t).where(t.c.id == bindparam("_id")).values(
        match_status="matched", policy_id=bindparam("_policy_id"), match_reason=bindparam("_reason"))
    reason = f"policy created in session {session_id}"
    # every number checked before anything is written (reading while inserting made PostgreSQL
    # pick a scan of the carrier's whole book for each chunk)
    numbers = [p["policy_number"] for p in policies]
    for i in range(0, len(numbers), 500):
        clash = (await tx.session.execute(select(Policy.policy_number).where(
            Policy.carrier == statement.carrier, Policy.policy_number.in_(numbers[i:i + 500])))).scalars().first()
        if clash:
            raise Conflict(f"policy {clash} already exists for carrier {statement.carrier}: re-match the statement")
    del numbers
    # every client found (or created) before any is written, and their individuals in one go:
    # looked up chunk by chunk, PostgreSQL scanned the tables this transaction keeps growing (no
    # statistics for those rows yet) once per chunk
    new_clients: list[tuple[str, str]] = []
    clients = await find_or_create_clients(tx, [p["client_name"] for p in policies], new_clients)
    from intake.individuals import individuals_for_clients

    await individuals_for_clients(tx, new_clients)
    del new_clients
    for n, p in enumerate(policies):
        client = clients.get(normalise_name(p["client_name"]))
        if client:
            p["client_id"], p["client_name"] = client
        if n % chunk == chunk - 1:
            await asyncio.sleep(0)
    del clients
    for start in range(0, total, chunk):
        part = policies[start:start + chunk]
        await tx.session.execute(insert(Policy.__table__), part)
        updates = [{"_id": line_id, "_policy_id": p["id"], "_reason": reason}
                   for p, ids in zip(part, line_ids[start:start + chunk], strict=True) for line_id in ids]
        await tx.session.execute(upd, updates, execution_options={"synchronize_session": False})
        await tx.emit_many(PolicyCreated(policy=snapshot(p)) for p in part)
        if progress is not None:
            await progress(start + len(part), total)
        await asyncio.sleep(0)  # other requests are served between chunks
    del line_ids
    await refresh_match_counts(tx.session, statement_id)
    number = (await tx.session.scalar(select(func.max(PolicySession.number)))) or 0
    created_at = utcnow()  # taken last: the moment the transaction commits
    session = PolicySession(id=session_id, number=number + 1, statement_id=statement_id, carrier=statement.carrier,
                            created_by=tx.actor, created_at=created_at, count=total,
                            idempotency_key=req.idempotency_key, defaults=req.defaults.model_dump_json())
    tx.session.add(session)
    await tx.session.flush()
    await tx.emit(PolicySessionCreated(session_id=session_id, statement_id=statement_id, carrier=statement.carrier,
                                       created_by=tx.actor, created_at=created_at, count=total))
    if auto_publish:
        await tx.session.refresh(statement)
        if not (statement.unmatched + statement.ambiguous):
            from intake.imports import publish_statement

            await publish_statement(tx, statement_id, exclude_unmatched=False)
    return session, True


async def session_for_key(session: Any, key: str) -> PolicySession | None:
    return (await session.execute(
        select(PolicySession).where(PolicySession.idempotency_key == key))).scalar_one_or_none()


async def selected_line_count(session: Any, statement_id: str, line_nos: list[int] | None) -> int:
    """How many unmatched lines a Create Policies request would take (an upper bound of its policies)."""
    t = StatementLineRow.__table__
    conds = [t.c.statement_id == statement_id, t.c.valid.is_(True), t.c.match_status == "unmatched"]
    count = await session.scalar(select(func.count()).select_from(t).where(*conds)) or 0
    return count if line_nos is None else min(count, len(set(line_nos)))


async def refresh_match_counts(session: Any, statement_id: str) -> None:
    t = StatementLineRow.__table__
    rows = (await session.execute(select(t.c.match_status, func.count()).where(
        t.c.statement_id == statement_id, t.c.valid.is_(True)).group_by(t.c.match_status))).all()
    counts = {status: n for status, n in rows}
    await session.execute(update(Statement.__table__).where(Statement.__table__.c.id == statement_id).values(
        matched=counts.get("matched", 0), unmatched=counts.get("unmatched", 0),
        ambiguous=counts.get("ambiguous", 0)))


SESSION_SORTS = {
    "date": PolicySession.created_at, "user": PolicySession.created_by, "count": PolicySession.count,
    "number": PolicySession.number,
}


async def list_sessions(session: Any, *, user: str | None = None, date_from: date | None = None,
                        date_to: date | None = None, sort: str = "-date", limit: int = 50,
                        offset: int = 0) -> tuple[int, list[PolicySession]]:
    conds = []
    if user:
        conds.append(PolicySession.created_by == user)
    if date_from:
        conds.append(PolicySession.created_at >= datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to:
        conds.append(PolicySession.created_at < datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC))
    desc = sort.startswith("-")
    col = SESSION_SORTS.get(sort.lstrip("-"))
    if col is None:
        raise UseCaseError(f"sort must be one of {', '.join(SESSION_SORTS)} (prefix - for descending)")
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(PolicySession).where(where))
    order = [col.desc() if desc else col.asc(), PolicySession.number.desc() if desc else PolicySession.number.asc()]
    rows = (await session.execute(select(PolicySession).where(where).order_by(*order).limit(limit).offset(offset))).scalars().all()
    return total or 0, list(rows)


def session_json(s: PolicySession) -> dict[str, Any]:
    return {"id": s.id, "number": s.number, "statement_id": s.statement_id, "carrier": s.carrier,
            "created_by": s.created_by, "created_at": s.created_at.isoformat(), "count": s.count}


# -- Update Policies (by Carrier) ------------------------------------------------------------------
class PolicyFilter(BaseModel):
    carrier: str = Field(min_length=1, max_length=200)
    session_id: str | None = None
    line_of_business: str | None = None
    status: str | None = None
    policy_number: str | None = None  # contains
    client_name: str | None = None  # contains
    effective_from: date | None = None
    effective_to: date | None = None


class PolicyChanges(BaseModel):
    line_of_business: str | None = Field(default=None, max_length=100)
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    status: str | None = Field(default=None, max_length=50)
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=100)


class UpdateByCarrierRequest(BaseModel):
    filter: PolicyFilter
    changes: PolicyChanges


def policy_conditions(f: PolicyFilter) -> list[Any]:
    p = Policy.__table__.c
    conds = [p.carrier == f.carrier]
    if f.session_id:
        conds.append(p.session_id == f.session_id)
    if f.line_of_business:
        conds.append(p.line_of_business == f.line_of_business)
    if f.status:
        conds.append(p.status == f.status)
    if f.policy_number:
        conds.append(p.policy_number.contains(f.policy_number, autoescape=True))
    if f.client_name:
        conds.append(func.lower(p.client_name).contains(f.client_name.lower(), autoescape=True))
    if f.effective_from:
        conds.append(p.effective_date >= f.effective_from)
    if f.effective_to:
        conds.append(p.effective_date <= f.effective_to)
    return conds


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
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        await tx.session.execute(update(p).where(p.c.id.in_(chunk)).values(
            **changes, version=p.c.version + 1, updated_at=now), execution_options={"synchronize_session": False})
        rows = (await tx.session.execute(select(p).where(p.c.id.in_(chunk)))).mappings().all()
        await tx.emit_many(PolicyUpdated(policy=snapshot(dict(r)), changed_fields=sorted(changes)) for r in rows)
    audit = PolicyUpdateAudit(carrier=req.filter.carrier, filters=req.filter.model_dump_json(exclude_none=True),
                              changes=json.dumps(changes), count=len(ids), updated_by=tx.actor, updated_at=now)
    tx.session.add(audit)
    await tx.session.flush()
    return audit


def audit_json(a: PolicyUpdateAudit) -> dict[str, Any]:
    return {"id": a.id, "carrier": a.carrier, "filter": json.loads(a.filters), "changes": json.loads(a.changes),
            "count": a.count, "updated_by": a.updated_by, "updated_at": a.updated_at.isoformat()}


# -- postings from invoicing (seed 003) ------------------------------------------------------------
class PolicyNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Posting:
    """One posted invoice as intake applies it (from ``InvoicePosted``)."""

    policy_id: str
    bill_type: str
    premium: Decimal
    effective_date: date | None = None
    expiration_date: date | None = None


TOTAL_FIELDS = ("annualized_premium", "billed_premium")


async def apply_invoice_postings(tx: Transaction, postings: Sequence[Posting]) -> int:
    """A consumed batch of postings, in order, with the same rule and result as one at a time (each
    posting bumps the policy's version): the policies and their term rows read with ``IN`` per
    chunk, the rule applied in memory, the terms replaced and the policies updated by executemany,
    and one ``PolicyUpdated`` per policy (its last version). Returns how many policies changed."""
    if not postings:
        return 0
    p, tp = Policy.__table__, PolicyTermPremium.__table__
    ids = list(dict.fromkeys(x.policy_id for x in postings))
    policies: dict[str, dict[str, Any]] = {}
    terms: dict[str, tuple[TermTotals, ...]] = {pid: () for pid in ids}
    for chunk in chunks(ids, CHUNK):
        rows = await tx.session.execute(select(p.c.id, p.c.effective_date, p.c.expiration_date, *(p.c[f] for f in TOTAL_FIELDS))
                                        .where(p.c.id.in_(chunk)))
        policies.update((r["id"], dict(r)) for r in rows.mappings())
        # in insertion order, as the rule scans the terms in the order it left them
        for r in await tx.session.execute(select(tp).where(tp.c.policy_id.in_(chunk)).order_by(tp.c.id)):
            terms[r.policy_id] += (TermTotals(r.term_start, r.term_end, r.annualized, r.billed),)
    missing = next((pid for pid in ids if pid not in policies), None)
    if missing is not None:
        raise PolicyNotFound(f"no policy {missing}")
    applied: dict[str, int] = dict.fromkeys(ids, 0)
    changed: dict[str, set[str]] = {pid: set() for pid in ids}
    for x in postings:
        pol = policies[x.policy_id]
        terms[x.policy_id] = apply_posting(terms[x.policy_id], x.bill_type, x.premium, effective_date=x.effective_date,
                                           expiration_date=x.expiration_date, policy_start=pol["effective_date"],
                                           policy_end=pol["expiration_date"])
        for field, value in zip(TOTAL_FIELDS, policy_totals(terms[x.policy_id]), strict=True):
            if pol[field] != value:
                changed[x.policy_id].add(field)
                pol[field] = value
        applied[x.policy_id] += 1
    now = utcnow()
    for chunk in chunks(ids, CHUNK):
        await tx.session.execute(delete(tp).where(tp.c.policy_id.in_(chunk)))
    new_terms = [{"policy_id": pid, "term_start": t.start, "term_end": t.end, "annualized": t.annualized,
                  "billed": t.billed} for pid in ids for t in terms[pid]]
    if new_terms:
        await tx.session.execute(insert(tp), new_terms)
    await tx.session.execute(
        update(p).where(p.c.id == bindparam("b_id")).values(
            annualized_premium=bindparam("b_annualized", type_=p.c.annualized_premium.type),
            billed_premium=bindparam("b_billed", type_=p.c.billed_premium.type),
            version=p.c.version + bindparam("b_applied"), updated_at=now),
        [{"b_id": pid, "b_annualized": policies[pid]["annualized_premium"],
          "b_billed": policies[pid]["billed_premium"], "b_applied": applied[pid]} for pid in ids],
        execution_options={"synchronize_session": False})
    for chunk in chunks(ids, CHUNK):
        rows = {r["id"]: dict(r) for r in (await tx.session.execute(select(p).where(p.c.id.in_(chunk)))).mappings()}
        await tx.emit_many(PolicyUpdated(policy=snapshot(rows[pid]), changed_fields=[f for f in TOTAL_FIELDS
                                                                                     if f in changed[pid]])
                           for pid in chunk)
    return len(ids)


def chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]
