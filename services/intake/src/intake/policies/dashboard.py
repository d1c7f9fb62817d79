"""The book of business pages: the home page (recent policies, a policy by hand) and Update
Policies (by Carrier)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from intake.carriers.registry import canonical_name, carrier_names
from intake.errors import UseCaseError
from intake.models import Policy, PolicySession, PolicyUpdateAudit
from intake.policies.queries import (
    BOOK_SORTING,
    LINE_SORTING,
    POSTING_SORTING,
    BookSearch,
    book_vocabulary,
    policy_lines,
    policy_postings,
    policy_terms,
    search_book,
)
from intake.policies.schemas import (
    POLICY_DEFAULT_FIELDS,
    NewPolicy,
    UpdateByCarrierRequest,
    audit_json,
    line_json,
    posting_json,
)
from intake.policies.usecases import create_policy, update_policies_by_carrier
from intake.web import landing_permissions, part_of

router = APIRouter(include_in_schema=False)
Viewer = Annotated[User, page_permission("policies:view")]


# Where ``/`` sends a user: the first intake page they may see, in this order (the book of business
# itself for those who may see it: policy sessions and Update policies need the same permission).
LANDING_PAGES = (("the book of business", "/", "policies:view"), ("statements", "/statements", "statements:view"),
                 ("individuals", "/individuals", "individuals:view"),
                 ("sales records", "/sales-records", "sales_enablement:view"), ("carriers", "/carriers", "carriers:view"))
Landing = Annotated[User, landing_permissions(*(permission for _name, _path, permission in LANDING_PAGES))]


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request, runtime: Runtime, user: Landing) -> Response:
    """The book of business for those who may see it; anyone else goes on to the first intake page they
    may see, or reads which pages there are and that an administrator grants access."""
    if user.can("policies:view"):
        return await home(request, runtime, user)
    for _name, path, permission in LANDING_PAGES:
        if user.can(permission):
            return RedirectResponse(path, status_code=303)
    return render(request, "intake_no_access.html", status_code=403, pages=LANDING_PAGES,
                  groups=user.groups, permissions=sorted(user.permissions))


async def home(request: Request, runtime: Runtime, user: User, error: str | None = None,
               values: dict[str, str] | None = None) -> HTMLResponse:
    async with runtime.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Policy))
        recent = (await session.execute(select(Policy).order_by(Policy.created_at.desc()).limit(50))).scalars().all()
        carriers = await carrier_names(session)
    return render(request, "intake_home.html", total=total, policies=recent, error=error, carriers=carriers,
                  values=values or {}, can_create=user.can("policies:create"))


@router.post("/policies")
async def create_policy_form(
    request: Request,
    runtime: Runtime,
    user: Annotated[User, page_permission("policies:create")],
    carrier: Annotated[str, Form()],
    policy_number: Annotated[str, Form()],
    client_name: Annotated[str, Form()],
    line_of_business: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = NewPolicy(carrier=carrier, policy_number=policy_number, client_name=client_name,
                         line_of_business=line_of_business or None)
        async with runtime.uow(actor=user.login) as tx:
            await create_policy(tx, data)
    except (ValidationError, UseCaseError) as exc:
        typed = {"carrier": carrier, "policy_number": policy_number, "client_name": client_name,
                 "line_of_business": line_of_business}
        return await home(request, runtime, user, error=str(exc), values=typed)
    return RedirectResponse("/", status_code=303)


UPDATE_FILTERS = ("carrier", "session_id", "line_of_business", "status", "policy_number", "client_name",
                  "effective_from", "effective_to")


@router.get("/policies/update", response_class=HTMLResponse)
async def update_page(request: Request, runtime: Runtime, user: Viewer, message: str | None = None,
                      error: str | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
    async with runtime.db.session() as session:
        audits = (await session.execute(select(PolicyUpdateAudit).order_by(PolicyUpdateAudit.updated_at.desc())
                                        .limit(50))).scalars().all()
        sessions = (await session.execute(select(PolicySession).order_by(PolicySession.number.desc()).limit(100))).scalars().all()
        carriers = await carrier_names(session, active_only=False)
    return render(request, "intake_update.html", audits=[audit_json(a) for a in audits], sessions=sessions,
                  carriers=carriers,
                  filters=UPDATE_FILTERS, changes=POLICY_DEFAULT_FIELDS, values=values or dict(request.query_params),
                  message=message, error=error, can_edit=user.can("policies:edit"))


@router.post("/policies/update")
async def update_form(request: Request, runtime: Runtime,
                      user: Annotated[User, page_permission("policies:edit")]) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    try:
        req = UpdateByCarrierRequest(
            filter={k[2:]: v for k, v in form.items() if k.startswith("f_") and v},
            changes={k[2:]: v for k, v in form.items() if k.startswith("c_") and v})
        async with runtime.uow(actor=user.login) as tx:
            audit = await update_policies_by_carrier(tx, req)
    except (ValidationError, UseCaseError) as exc:
        return await update_page(request, runtime, user, error=str(exc), values=form)
    return await update_page(request, runtime, user, message=f"{audit.count} policies updated.", values=form)


@router.get("/policies", response_class=HTMLResponse)
async def book_page(request: Request, runtime: Runtime, user: Viewer, q: str = "", carrier: str = "",
                    line_of_business: str = "", status: str = "", session_id: str = "",
                    effective_from: str = "", effective_to: str = "", expiration_from: str = "",
                    expiration_to: str = "", sort: str = "", offset: Offset = 0, limit: int = 50) -> HTMLResponse:
    """Search the book of business: any filter, sortable columns, a page at a time with the count."""
    error = None
    dates: dict[str, date | None] = {}
    for name, typed in (("effective_from", effective_from), ("effective_to", effective_to),
                        ("expiration_from", expiration_from), ("expiration_to", expiration_to)):
        try:
            dates[name] = date.fromisoformat(typed) if typed.strip() else None
        except ValueError:
            dates[name], error = None, f"“{typed}” is not a date: use the date picker (YYYY-MM-DD)."
    async with runtime.db.session() as session:
        search = BookSearch(q=q[:200], carrier=await canonical_name(session, carrier) if carrier.strip() else "",
                            line_of_business=line_of_business, status=status, session_id=session_id, **dates)
        found = await search_book(session, search, BOOK_SORTING.valid(sort), offset,
                                  max(1, min(limit, 200)))
        carriers = await carrier_names(session, active_only=False)
        vocabulary = await book_vocabulary(session)
    return render(request, "intake_book.html", page=found, policies=found.items, search=search,
                  typed={"q": q, "carrier": carrier, "effective_from": effective_from, "effective_to": effective_to,
                         "expiration_from": expiration_from, "expiration_to": expiration_to},
                  carriers=carriers, error=error, **vocabulary)


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
async def policy_page(request: Request, runtime: Runtime, user: Viewer, policy_id: str, lines_sort: str = "",
                      lines_offset: Offset = 0, lines_limit: int = 20, postings_sort: str = "",
                      postings_offset: Offset = 0, postings_limit: int = 20) -> HTMLResponse:
    """One policy: its fields, its terms (each term's annualized and billed premium and commission), the
    Create-Policies session it came from, its statement lines and the postings applied to it (each list a
    page at a time, sortable), each posting linked to its reconciliation in invoicing."""
    query = dict(request.query_params)
    async with runtime.db.session() as session:
        policy = await session.get(Policy, policy_id)
        if policy is None:
            return render(request, "message.html", status_code=404, message="There is no such policy.")
        terms = await policy_terms(session, policy_id)
        origin = await session.get(PolicySession, policy.session_id) if policy.session_id else None
        lines = await policy_lines(session, policy_id, LINE_SORTING.valid(lines_sort), lines_offset,
                                   max(1, min(lines_limit, 200)))
        postings = await policy_postings(session, policy_id, POSTING_SORTING.valid(postings_sort), postings_offset,
                                         max(1, min(postings_limit, 200)))
    lines.items = [line_json(r) for r in lines.items]
    postings.items = [posting_json(r) for r in postings.items]
    invoicing = dict(runtime.settings.dashboard_links()).get("invoicing", "")
    return render(request, "intake_policy.html", policy=policy, terms=terms, origin=origin,
                  lines=part_of(lines, "lines_", query), postings=part_of(postings, "postings_", query),
                  invoicing=invoicing.rstrip("/"), can_see_statements=user.can("statements:view"),
                  can_edit=user.can("policies:edit"))
