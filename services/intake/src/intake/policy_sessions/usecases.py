"""Create Policies (seed 000): the policies of a statement's unmatched lines, their clients and
one session, in ONE transaction (the tuned bulk path: chunks, the event loop handed back)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.intake import PoliciesCreated, PolicySessionCreated
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, func, insert, select, update

from intake.carriers.registry import require_carrier
from intake.chunking import CHUNK, chunks
from intake.domain.insured import Insured
from intake.domain.values import normalise_name
from intake.errors import Conflict, NotFound, UseCaseError
from intake.individuals.usecases import individuals_for_clients
from intake.models import (
    Policy,
    PolicySession,
    PolicyTerm,
    Statement,
    StatementLineRow,
)
from intake.policies.schemas import POLICY_DEFAULT_FIELDS, snapshot
from intake.policies.terms import first_term_row
from intake.policies.usecases import find_or_create_clients
from intake.policy_sessions.domain.new_policies import plan_policy
from intake.policy_sessions.domain.undo import VOIDED
from intake.policy_sessions.queries import session_for_key
from intake.policy_sessions.schemas import CreatePoliciesRequest, LineOverride
from intake.policy_sessions.undo import remove_voided
from intake.statements.publishing import may_publish_on_its_own, publish_statement
from intake.statements.queries import carrier_default_rate
from intake.statements.usecases import refresh_match_counts

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
    voided: list[str] = []  # an undone session's policies: their numbers may be created again
    for i in range(0, len(numbers), 500):
        found = (await tx.session.execute(select(Policy.id, Policy.policy_number, Policy.status).where(
            Policy.carrier == statement.carrier, Policy.policy_number.in_(numbers[i:i + 500])))).all()
        clash = next((n for _id, n, status in found if status != VOIDED), None)
        if clash:
            raise Conflict(f"policy {clash} already exists for carrier {statement.carrier}: re-match the statement")
        voided += [pid for pid, _n, _status in found]
    del numbers
    await remove_voided(tx, voided)
    # every client found (or created) before any is written, and their individuals in one go:
    # looked up chunk by chunk, PostgreSQL scanned the tables this transaction keeps growing (no
    # statistics for those rows yet) once per chunk
    new_clients: list[tuple[str, Insured]] = []
    clients = await find_or_create_clients(tx, insureds, new_clients)
    del insureds
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
        # one event per chunk of policies (issue 17), not one per policy
        await tx.emit_many(PoliciesCreated(policies=[snapshot(p) for p in sub]) for sub in chunks(part, BULK_CHUNK))
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
        await tx.session.refresh(statement)
        if may_publish_on_its_own(statement) and not (statement.unmatched + statement.ambiguous):
            await publish_statement(tx, statement_id, exclude_unmatched=False)
    return session, True
