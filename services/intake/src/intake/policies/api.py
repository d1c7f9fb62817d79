"""The book of business JSON API: policies, Update Policies (by Carrier) and its audits."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Query
from sqlalchemy import func, select

from intake.carriers.registry import canonical_name
from intake.errors import NotFound
from intake.models import Policy, PolicyUpdateAudit
from intake.policies.queries import policy_terms
from intake.policies.schemas import (
    AuditList,
    AuditOut,
    NewPolicy,
    PolicyOut,
    PolicyPage,
    PolicyWithTerms,
    UpdateByCarrierRequest,
    audit_json,
    policy_json,
)
from intake.policies.usecases import create_policy, update_policies_by_carrier

router = APIRouter(prefix="/api", tags=["intake"])


@router.post("/policies", status_code=201, response_model=PolicyOut, response_model_exclude_unset=True)
async def create_policy_route(
    runtime: Runtime, body: NewPolicy, user: Annotated[User, require("policies:create")]
) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        policy = await create_policy(tx, body)
    return policy_json(policy)


@router.get("/policies", response_model=PolicyPage, response_model_exclude_unset=True)
async def list_policies(
    session: Session,
    _user: Annotated[User, require("policies:view")],
    carrier: str | None = None,
    session_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    conds = []
    if session_id:
        conds.append(Policy.session_id == session_id)
    if carrier:
        conds.append(Policy.carrier == await canonical_name(session, carrier))
    total = await session.scalar(select(func.count()).select_from(Policy).where(*conds))
    rows = (await session.execute(select(Policy).where(*conds).order_by(Policy.created_at.desc(), Policy.id)
                                  .limit(limit).offset(offset))).scalars()
    return {"total": total, "items": [policy_json(p) for p in rows]}


@router.get("/policies/{policy_id}", response_model=PolicyWithTerms, response_model_exclude_unset=True)
async def get_policy(session: Session, policy_id: str, _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    """The policy (its current term's dates and totals) and every one of its terms."""
    policy = await session.get(Policy, policy_id)
    if policy is None:
        raise NotFound("no such policy")
    return policy_json(policy) | {"terms": await policy_terms(session, policy_id)}


@router.post("/policies/update-by-carrier", response_model=AuditOut, response_model_exclude_unset=True)
async def update_by_carrier(runtime: Runtime, body: UpdateByCarrierRequest,
                            user: Annotated[User, require("policies:edit")]) -> dict[str, Any]:
    async with runtime.uow(actor=user.login) as tx:
        audit = await update_policies_by_carrier(tx, body)
    return audit_json(audit)


@router.get("/policy-update-audits", response_model=AuditList, response_model_exclude_unset=True)
async def list_update_audits(session: Session, _user: Annotated[User, require("policies:view")],
                             carrier: str | None = None) -> dict[str, Any]:
    stmt = select(PolicyUpdateAudit).order_by(PolicyUpdateAudit.updated_at.desc()).limit(200)
    if carrier:
        stmt = stmt.where(PolicyUpdateAudit.carrier == await canonical_name(session, carrier))
    rows = (await session.execute(stmt)).scalars().all()
    return {"items": [audit_json(a) for a in rows]}
