"""The book of business JSON API: policies, Update Policies (by Carrier) and its audits."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from agency_common.auth import User, require
from agency_common.web.deps import Offset, Runtime, Session
from fastapi import APIRouter, Query
from sqlalchemy import select

from intake.carriers.registry import canonical_name
from intake.errors import NotFound
from intake.models import Policy, PolicyUpdateAudit
from intake.policies.queries import (
    BOOK_SORTING,
    LINE_SORTING,
    POSTING_SORTING,
    BookSearch,
    policy_lines,
    policy_postings,
    policy_terms,
    search_book,
)
from intake.policies.schemas import (
    AuditList,
    AuditOut,
    LinePage,
    NewPolicy,
    PolicyOut,
    PolicyPage,
    PolicyWithTerms,
    PostingPage,
    UpdateByCarrierRequest,
    audit_json,
    line_json,
    policy_json,
    posting_json,
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
    q: Annotated[str, Query(max_length=200, description="a policy number or client name containing this")] = "",
    carrier: str | None = None,
    line_of_business: str = "",
    status: str = "",
    session_id: str | None = None,
    effective_from: date | None = None,
    effective_to: date | None = None,
    expiration_from: date | None = None,
    expiration_to: date | None = None,
    sort: Annotated[str, Query(description="a column, -column for descending")] = BOOK_SORTING.default,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The book of business, searched, sorted and read a page at a time, with how many policies match."""
    search = BookSearch(q=q, carrier=await canonical_name(session, carrier) if carrier else "",
                        line_of_business=line_of_business, status=status, session_id=session_id or "",
                        effective_from=effective_from, effective_to=effective_to,
                        expiration_from=expiration_from, expiration_to=expiration_to)
    found = await search_book(session, search, sort, offset, limit)
    return found.api([policy_json(p) for p in found.items])


@router.get("/policies/{policy_id}", response_model=PolicyWithTerms, response_model_exclude_unset=True)
async def get_policy(session: Session, policy_id: str, _user: Annotated[User, require("policies:view")]) -> dict[str, Any]:
    """The policy (its current term's dates and totals) and every one of its terms."""
    policy = await session.get(Policy, policy_id)
    if policy is None:
        raise NotFound("no such policy")
    return policy_json(policy) | {"terms": await policy_terms(session, policy_id)}


async def _known(session: Any, policy_id: str) -> None:
    if await session.get(Policy, policy_id) is None:
        raise NotFound("no such policy")


@router.get("/policies/{policy_id}/lines", response_model=LinePage, response_model_exclude_unset=True)
async def get_policy_lines(
    session: Session, policy_id: str, _user: Annotated[User, require("policies:view")],
    sort: Annotated[str, Query(description="a column, -column for descending")] = LINE_SORTING.default,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """The statement lines matched to the policy, each with its statement, amounts, match reason and status."""
    await _known(session, policy_id)
    found = await policy_lines(session, policy_id, sort, offset, limit)
    return found.api([line_json(r) for r in found.items])


@router.get("/policies/{policy_id}/postings", response_model=PostingPage, response_model_exclude_unset=True)
async def get_policy_postings(
    session: Session, policy_id: str, _user: Annotated[User, require("policies:view")],
    sort: Annotated[str, Query(description="a column, -column for descending")] = POSTING_SORTING.default,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """The invoices posted to the policy (invoicing's postings as intake applied them), each with its
    reconciliation."""
    await _known(session, policy_id)
    found = await policy_postings(session, policy_id, sort, offset, limit)
    return found.api([posting_json(r) for r in found.items])


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
