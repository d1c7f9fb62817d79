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
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import and_, bindparam, func, insert, select, update

from intake.carriers.registry import require_carrier
from intake.domain.insured import Insured, classify_insured, formula_reason
from intake.domain.mapping import BILL_TYPES, FIELDS, MappingProfile, validate_profile
from intake.domain.new_policies import plan_policy
from intake.domain.premium import Term, apply_posting, current_term, estimated_commission
from intake.domain.values import ValueProblem, normalise_name, parse_rate
from intake.errors import Conflict, NotFound, UseCaseError
from intake.models import (
    CarrierProfile,
    Client,
    Policy,
    PolicySession,
    PolicyTerm,
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
    commission_rate: Decimal | None = None  # "15%" or 0.15; none: the carrier's default rate

    @field_validator("commission_rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Any:
        return parse_rate(str(value)) if value is not None and str(value).strip() else None

    @field_validator("client_name")
    @classmethod
    def _not_a_formula(cls, value: str) -> str:
        reason = formula_reason(value)
        if reason:
            raise ValueError(reason.replace("insured name", "client name").replace(
                "; give the line a client name override", ""))
        return value


POLICY_SNAPSHOT_FIELDS = (
    "carrier", "policy_number", "client_id", "client_name", "bill_to_name", "line_of_business",
    "business_type", "mode", "status", "effective_date", "expiration_date", "estimated_premium",
    "annualized_premium", "billed_premium", "commission_rate", "estimated_agency_commission",
    "billed_agency_commission", "branch", "department", "unit", "servicing_agent", "session_id", "updated_at",
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
            Client.normalised_name.in_(keys[i:i + 500])))
        found.update({n: (cid, name) for n, cid, name in rows.all()})
    missing = [{"id": str(uuid.uuid4()), "name": wanted[k].name, "normalised_name": k, "kind": wanted[k].kind,
                "created_by": tx.actor, "created_at": utcnow()} for k in keys if k not in found]
    for i in range(0, len(missing), CHUNK):
        await tx.session.execute(insert(Client.__table__), missing[i:i + CHUNK])
    new = [(row["id"], wanted[row["normalised_name"]]) for row in missing]
    if created is not None:
        created.extend(new)
    else:
        from intake.individuals import individuals_for_clients

        await individuals_for_clients(tx, new)
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


# -- carrier profiles ------------------------------------------------------------------------------
class ProfileIn(BaseModel):
    columns: dict[str, str] = {}
    bill_types: dict[str, str] = {}
    prefixes: list[str] = []
    sheet: str | None = None
    default_commission_rate: str | None = None  # "15%" or "0.15"; blank: none


async def carrier_default_rate(session: Any, carrier: str) -> Decimal | None:
    return await session.scalar(select(CarrierProfile.default_commission_rate).where(
        CarrierProfile.carrier == carrier))


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
    rate = None
    try:
        rate = parse_rate(data.default_commission_rate)
    except ValueProblem as exc:
        problems.append(f"default commission rate: {exc}")
    if rate is not None and rate < 0:
        problems.append("default commission rate is negative")
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
    row.default_commission_rate = rate
    row.updated_by, row.updated_at = tx.actor, utcnow()
    await tx.session.flush()
    return row


def profile_json(carrier: str, row: CarrierProfile | None) -> dict[str, Any]:
    if row is None:
        return {"carrier": carrier, "columns": {}, "bill_types": {}, "prefixes": [], "sheet": None,
                "default_commission_rate": None, "fields": list(FIELDS), "bill_type_values": list(BILL_TYPES)}
    rate = row.default_commission_rate
    return {"carrier": carrier, "columns": json.loads(row.columns), "bill_types": json.loads(row.bill_types),
            "prefixes": json.loads(row.prefixes), "sheet": row.sheet,
            "default_commission_rate": None if rate is None else str(rate.normalize()), "updated_by": row.updated_by,
            "updated_at": row.updated_at.isoformat(), "fields": list(FIELDS), "bill_type_values": list(BILL_TYPES)}


# -- Create Policies (seed 000) --------------------------------------------------------------------
POLICY_DEFAULT_FIELDS = ("line_of_business", "business_type", "mode", "status", "branch", "department", "unit",
                         "servicing_agent")


class PolicyDefaults(BaseModel):
    line_of_business: str | None = Field(default=None, max_length=100)  # the policy type
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    # for lines without a transaction code (a code's own status wins); none given: active
    status: str | None = Field(default=None, max_length=50)
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
                  t.c.transaction_type, t.c.bill_type, t.c.line_of_business, t.c.effective_date,
                  t.c.expiration_date, t.c.premium, t.c.commission_rate, t.c.commission_amount).where(
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
    default_rate = await carrier_default_rate(tx.session, statement.carrier)
    refused: list[dict[str, Any]] = []  # the lines of each refused policy, with its reason
    session_id = str(uuid.uuid4())
    now = utcnow()
    policies: list[dict[str, Any]] = []
    insureds: list[Insured] = []
    line_ids: list[list[int]] = []  # per policy, its lines
    for n, group in enumerate(groups.values()):
        if n % chunk == chunk - 1:
            await asyncio.sleep(0)
        first = group[0]
        ov: LineOverride | None = next((g["_override"] for g in group if g["_override"]), None)
        plan = plan_policy(group, client_name=ov.client_name if ov else None, status=ov.status if ov else None,
                           default_status=defaults["status"], default_rate=default_rate)
        if plan.refused or plan.insured is None:
            refused += [{"_id": g["id"], "_line_no": g["line_no"], "_reason": f"not created: {plan.refused}"}
                        for g in group]
            continue
        fields = {k: (getattr(ov, k) if ov and getattr(ov, k) else defaults.get(k)) for k in POLICY_DEFAULT_FIELDS}
        fields["status"] = plan.status
        if not fields["line_of_business"]:
            fields["line_of_business"] = first["line_of_business"]
        policies.append({
            "id": str(uuid.uuid4()), "version": 1, "carrier": statement.carrier, "policy_number": first["_number"],
            "client_name": plan.insured.name, "client_id": None, "bill_to_name": None, **fields,
            "effective_date": plan.effective_date, "expiration_date": plan.expiration_date,
            "estimated_premium": plan.estimated_premium, "annualized_premium": None, "billed_premium": None,
            "commission_rate": plan.commission_rate, "estimated_agency_commission": plan.estimated_commission,
            "billed_agency_commission": None, "session_id": session_id, "created_by": tx.actor,
            "created_at": now, "updated_at": now,
        })
        insureds.append(plan.insured)
        line_ids.append([g["id"] for g in group])
    del groups
    if not policies:
        reasons = [f"line {r['_line_no']}: {r['_reason']}" for r in refused]
        raise UseCaseError("no policy can be created: " + "; ".join(reasons[:20])
                           + (f" (and {len(reasons) - 20} more)" if len(reasons) > 20 else ""))
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
    new_clients: list[tuple[str, Insured]] = []
    clients = await find_or_create_clients(tx, insureds, new_clients)
    del insureds
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
        await tx.session.execute(insert(PolicyTerm.__table__), [first_term_row(p) for p in part])
        updates = [{"_id": line_id, "_policy_id": p["id"], "_reason": reason}
                   for p, ids in zip(part, line_ids[start:start + chunk], strict=True) for line_id in ids]
        await tx.session.execute(upd, updates, execution_options={"synchronize_session": False})
        await tx.emit_many(PolicyCreated(policy=snapshot(p)) for p in part)
        if progress is not None:
            await progress(start + len(part), total)
        await asyncio.sleep(0)  # other requests are served between chunks
    del line_ids
    # a refused line stays unmatched, with the reason the operator sees on it
    refuse = update(t).where(t.c.id == bindparam("_id")).values(match_reason=bindparam("_reason"))
    for part in chunks(refused, chunk):
        await tx.session.execute(refuse, [{"_id": r["_id"], "_reason": r["_reason"][:500]} for r in part],
                                 execution_options={"synchronize_session": False})
    await refresh_match_counts(tx.session, statement_id)
    number = (await tx.session.scalar(select(func.max(PolicySession.number)))) or 0
    created_at = utcnow()  # taken last: the moment the transaction commits
    session = PolicySession(id=session_id, number=number + 1, statement_id=statement_id, carrier=statement.carrier,
                            created_by=tx.actor, created_at=created_at, count=total, refused=len(refused),
                            idempotency_key=req.idempotency_key, defaults=req.defaults.model_dump_json())
    tx.session.add(session)
    await tx.session.flush()
    await tx.emit(PolicySessionCreated(session_id=session_id, statement_id=statement_id, carrier=statement.carrier,
                                       created_by=tx.actor, created_at=created_at, count=total))
    if auto_publish:
        from intake.imports import may_publish_on_its_own

        await tx.session.refresh(statement)
        if may_publish_on_its_own(statement) and not (statement.unmatched + statement.ambiguous):
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
            "created_by": s.created_by, "created_at": s.created_at.isoformat(), "count": s.count,
            "refused": s.refused}


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
    commission: Decimal = Decimal("0.00")


# a term's values, stored alike on the term and (for the current term) on the policy
TERM_COLUMNS = {"effective_date": "start", "expiration_date": "end", "annualized_premium": "annualized",
                "billed_premium": "billed", "estimated_agency_commission": "estimated_commission",
                "billed_agency_commission": "billed_commission"}


def term_from_row(r: Any) -> Term:
    return Term(**{attr: r[col] for col, attr in TERM_COLUMNS.items()}, id=r["id"])


def term_values(t: Term) -> dict[str, Any]:
    return {col: getattr(t, attr) for col, attr in TERM_COLUMNS.items()}


def first_term_row(policy: dict[str, Any]) -> dict[str, Any]:
    """The term a new policy starts with: its own dates, nothing posted yet."""
    return {"policy_id": policy["id"], "effective_date": policy["effective_date"],
            "expiration_date": policy["expiration_date"], "annualized_premium": None, "billed_premium": None,
            "estimated_agency_commission": policy["estimated_agency_commission"], "billed_agency_commission": None}


async def policy_terms(session: Any, policy_id: str) -> list[dict[str, Any]]:
    """The policy's terms, oldest first, the current one marked."""
    pt = PolicyTerm.__table__
    terms = [term_from_row(r) for r in (await session.execute(select(pt).where(pt.c.policy_id == policy_id)))
             .mappings()]
    current = current_term(tuple(terms)) if terms else None
    out = []
    for t in sorted(terms, key=lambda t: (t.start or date.min, t.end or date.min)):
        values = {k: (v.isoformat() if isinstance(v, date) else None if v is None else str(v))
                  for k, v in term_values(t).items()}
        out.append(values | {"current": t is current})
    return out


async def apply_invoice_postings(tx: Transaction, postings: Sequence[Posting]) -> int:
    """A consumed batch of postings, in order, with the same rule and result as one at a time (each
    posting bumps the policy's version): the policies and their terms read with ``IN`` per chunk,
    the rule applied in memory, the changed terms updated and the new ones inserted by
    executemany, the policies given their current term's dates and totals, and one
    ``PolicyUpdated`` per policy (its last version). Returns how many policies changed."""
    if not postings:
        return 0
    p, pt = Policy.__table__, PolicyTerm.__table__
    ids = list(dict.fromkeys(x.policy_id for x in postings))
    policies: dict[str, dict[str, Any]] = {}
    terms: dict[str, tuple[Term, ...]] = {pid: () for pid in ids}
    for chunk in chunks(ids, CHUNK):
        rows = await tx.session.execute(select(p.c.id, p.c.estimated_premium, p.c.commission_rate,
                                               *(p.c[f] for f in TERM_COLUMNS)).where(p.c.id.in_(chunk)))
        policies.update((r["id"], dict(r)) for r in rows.mappings())
        for r in (await tx.session.execute(select(pt).where(pt.c.policy_id.in_(chunk)).order_by(pt.c.id))).mappings():
            terms[r["policy_id"]] += (term_from_row(r),)
    missing = next((pid for pid in ids if pid not in policies), None)
    if missing is not None:
        raise PolicyNotFound(f"no policy {missing}")
    stored = {t.id: t for ts in terms.values() for t in ts}
    applied: dict[str, int] = dict.fromkeys(ids, 0)
    for x in postings:
        pol = policies[x.policy_id]
        terms[x.policy_id] = apply_posting(
            terms[x.policy_id], x.bill_type, x.premium, x.commission, effective_date=x.effective_date,
            expiration_date=x.expiration_date, estimated_premium=pol["estimated_premium"], rate=pol["commission_rate"])
        applied[x.policy_id] += 1
    changed_terms = [t for ts in terms.values() for t in ts if t.id is not None and stored[t.id] != t]
    if changed_terms:
        await tx.session.execute(
            update(pt).where(pt.c.id == bindparam("b_id")).values(
                {c: bindparam(f"b_{c}", type_=pt.c[c].type) for c in TERM_COLUMNS}),
            [{"b_id": t.id, **{f"b_{c}": v for c, v in term_values(t).items()}} for t in changed_terms],
            execution_options={"synchronize_session": False})
    new_terms = [{"policy_id": pid, **term_values(t)} for pid in ids for t in terms[pid] if t.id is None]
    for part in chunks(new_terms, CHUNK):
        await tx.session.execute(insert(pt), part)
    now = utcnow()
    changed: dict[str, list[str]] = {}
    updates = []
    for pid in ids:
        values = term_values(current_term(terms[pid]))
        changed[pid] = [f for f, v in values.items() if policies[pid][f] != v]
        updates.append({"b_id": pid, "b_applied": applied[pid], **{f"b_{f}": v for f, v in values.items()}})
    await tx.session.execute(
        update(p).where(p.c.id == bindparam("b_id")).values(
            {**{f: bindparam(f"b_{f}", type_=p.c[f].type) for f in TERM_COLUMNS},
             "version": p.c.version + bindparam("b_applied"), "updated_at": now}),
        updates, execution_options={"synchronize_session": False})
    for chunk in chunks(ids, CHUNK):
        rows = {r["id"]: dict(r) for r in (await tx.session.execute(select(p).where(p.c.id.in_(chunk)))).mappings()}
        await tx.emit_many(PolicyUpdated(policy=snapshot(rows[pid]), changed_fields=changed[pid]) for pid in chunk)
    return len(ids)


def chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]
