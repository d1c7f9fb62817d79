"""Pages: statement entry (grid, filters, selection, save, duplicates, people commissions) and the people defaults."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from agency_common.web import render
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing import errors
from invoicing.domain.commission import BILL_TYPES
from invoicing.domain.duplicates import OVERRIDE_PERMISSION
from invoicing.models import PeopleCommissionDefault
from invoicing.policy_view.carriers import pick_list
from invoicing.reconciliations.pages import page_header
from invoicing.statement_entry import duplicates
from invoicing.statement_entry import people as people_uc
from invoicing.statement_entry import queries as entry_queries
from invoicing.statement_entry import schemas as entry_schemas
from invoicing.statement_entry import usecases as entry_uc
from invoicing.web import (
    PAGE,
    PageDuplicateOverrider,
    PageEditor,
    PageViewer,
    back,
    describe,
    form_key,
    page_action,
    plural,
)

router = APIRouter(include_in_schema=False)


FILTER_FIELDS = list(entry_schemas.EntryFilters.model_fields)


def filters_from(params: dict[str, Any]) -> tuple[entry_schemas.EntryFilters, str | None]:
    raw = {k: v for k, v in params.items() if k in FILTER_FIELDS and v not in ("", None)}
    if params.get("searched") and "include_selected" not in params:  # an unchecked box is not sent
        raw["include_selected"] = False
    try:
        return entry_schemas.EntryFilters(**raw), None
    except ValidationError as exc:
        return entry_schemas.EntryFilters(), "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())


@router.get("/reconciliations/{rec_id}/entries", response_class=HTMLResponse)
async def entries(request: Request, session: Session, rec_id: str, user: PageViewer, page: int = 1) -> HTMLResponse:
    params = dict(request.query_params)
    filters, error = filters_from(params)
    return await entries_page(request, session, rec_id, filters, max(page, 1), params, error=error or params.get("error"),
                               message=params.get("message"))


async def entries_page(request: Request, session: AsyncSession, rec_id: str, filters: entry_schemas.EntryFilters, page: int, params: dict[str, Any],
                        *, error: str | None = None, message: str | None = None,
                        row_errors: dict[str, dict[str, str]] | None = None,
                        submitted: dict[str, dict[str, str]] | None = None, status_code: int = 200) -> HTMLResponse:
    rec = await page_header(session, rec_id)
    result = await entry_queries.search_entries(session, rec_id, filters, PAGE, (page - 1) * PAGE)
    query = {k: v for k, v in params.items() if k in FILTER_FIELDS or k == "searched"}
    return render(request, "entries.html", status_code=status_code, rec=rec, result=result, f=filters,
                  page=page, pages=(result["total"] + PAGE - 1) // PAGE, query=urlencode(query),
                  error=error, message=message, row_errors=row_errors or {}, submitted=submitted or {},
                  bill_types=BILL_TYPES, sort_fields=list(entry_schemas.SORT_FIELDS), key=form_key(),
                  can_override=can_override(request))


@router.post("/reconciliations/{rec_id}/entries/reset", response_class=HTMLResponse)
async def reset(request: Request, runtime: Runtime, rec_id: str, user: PageEditor) -> Response:
    """Search with "reset premium and commission to zero" (it unchecks after the search)."""
    form = dict(await request.form())
    filters, error = filters_from(form)
    if error:
        return back(f"/reconciliations/{rec_id}/entries", error=error)
    result = await page_action(runtime, rec_id, user, entry_uc.reset_amounts, filters)
    params = {k: v for k, v in form.items() if k in FILTER_FIELDS or k == "searched"}
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/entries", error=result, **params)
    return back(f"/reconciliations/{rec_id}/entries", message=f"{plural(result['reset'], 'row')} reset to zero.", **params)


@router.post("/reconciliations/{rec_id}/entries/select-found")
async def select_found(request: Request, runtime: Runtime, rec_id: str, user: PageEditor) -> Response:
    """Select (or unselect) every row the current search finds, in one statement."""
    form = dict(await request.form())
    params = {k[2:]: v for k, v in form.items() if k.startswith("q-")}
    filters, _ = filters_from(params)
    selected = form.get("selected", "1") == "1"
    result = await page_action(runtime, rec_id, user, entry_uc.select_entries, selected, None, filters)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/entries", error=result, **params)
    return back(f"/reconciliations/{rec_id}/entries",
                message=f"{plural(result['changed'], 'row')} {'selected' if selected else 'unselected'}.", **params)


def can_override(request: Request) -> bool:
    user = getattr(request.state, "user", None)
    return bool(user and user.can(OVERRIDE_PERMISSION))


@router.post("/reconciliations/{rec_id}/entries/confirm-duplicates")
async def confirm_duplicates(request: Request, runtime: Runtime, rec_id: str, user: PageDuplicateOverrider) -> Response:
    """Invoice again the flagged rows: one (``entry``) or every selected one; records the user."""
    form = dict(await request.form())
    params = {k[2:]: v for k, v in form.items() if k.startswith("q-")}
    entry = str(form.get("confirm_entry") or "")
    data = entry_schemas.DuplicateConfirmation(ids=[int(entry)] if entry.isdigit() else None, selection=not entry.isdigit())
    result = await page_action(runtime, rec_id, user, duplicates.confirm_duplicates, data)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/entries", error=result, **params)
    return back(f"/reconciliations/{rec_id}/entries", page=form.get("page") or None, **params,
                message=f"{plural(result['changed'], 'row')} confirmed: invoiced again by the next Create Invoices.")


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/select", response_class=HTMLResponse)
async def toggle_select(request: Request, runtime: Runtime, rec_id: str, entry_id: int, user: PageEditor) -> Response:
    """The row's checkbox: selecting saves the row at once (htmx swaps the row)."""
    form = dict(await request.form())
    selected = form.get(f"sel-{entry_id}") in ("on", "true", "1")
    edit, _changed = edit_from_form(form, entry_id)
    edit["selected"] = selected
    if not selected:
        edit = {"id": entry_id, "selected": False}
    error = None
    row_errors: dict[str, str] = {}
    try:
        async with runtime.uow(actor=user.login) as tx:
            await entry_uc.save_entries(tx, rec_id, [entry_schemas.EntryEdit(**edit)])
    except errors.Invalid as exc:
        row_errors = exc.detail["errors"].get(str(entry_id), {})
        error = "Not selected: fix the errors first."
    except errors.Conflict as exc:
        error = f"{exc} — the row shows its current values."
    async with runtime.db.session() as s:
        (row,) = await entry_queries.get_entries(s, rec_id, [entry_id])
        rec = await page_header(s, rec_id)
    return render(request, "entry_row.html", r=row, rec=rec, row_error=error, errs=row_errors, oob=True,
                  can_override=user.can(OVERRIDE_PERMISSION),
                  sub={} if not row_errors else {k.removeprefix(f"row-{entry_id}-"): v for k, v in form.items()
                                                 if k.startswith(f"row-{entry_id}-")},
                  bill_types=BILL_TYPES)


def edit_from_form(form: dict[str, Any], entry_id: int) -> tuple[dict[str, Any], bool]:
    edit: dict[str, Any] = {"id": entry_id, "version": int(form.get(f"version-{entry_id}", 0) or 0)}
    changed = False
    for field in entry_uc.EDITABLE:
        new, old = form.get(f"row-{entry_id}-{field}"), form.get(f"orig-{entry_id}-{field}")
        if new is not None and (new or "") != (old or ""):
            edit[field] = new
            changed = True
    new_number, old_number = form.get(f"row-{entry_id}-policy_number"), form.get(f"orig-{entry_id}-policy_number")
    if new_number is not None and new_number.strip() and new_number != old_number:
        edit["policy_number"] = new_number
        changed = True
    add = form.get(f"row-{entry_id}-add_rows") or "0"
    if add.strip() not in ("", "0"):
        edit["add_rows"] = add.strip()
        changed = True
    return edit, changed


@router.post("/reconciliations/{rec_id}/entries/save", response_class=HTMLResponse)
async def save(request: Request, runtime: Runtime, rec_id: str, user: PageEditor) -> Response:
    form = dict(await request.form())
    params = {k: v for k, v in form.items() if k.startswith("q-")}
    params = {k[2:]: v for k, v in params.items()}
    page = int(form.get("page", 1) or 1)
    ids = sorted({int(k.split("-")[1]) for k in form if k.startswith("version-")})
    edits, submitted = [], {}
    for entry_id in ids:
        edit, changed = edit_from_form(form, entry_id)
        if changed:
            edits.append(edit)
            submitted[str(entry_id)] = {f: form[f"row-{entry_id}-{f}"] for f in (*entry_uc.EDITABLE, "add_rows", "policy_number")
                                        if f"row-{entry_id}-{f}" in form}
    filters, _ = filters_from(params)
    if not edits:
        return back(f"/reconciliations/{rec_id}/entries", message="Nothing changed.", page=page, **params)
    try:
        parsed = [entry_schemas.EntryEdit(**e) for e in edits]
        async with runtime.uow(actor=user.login) as tx:
            result = await entry_uc.save_entries(tx, rec_id, parsed, form.get("idempotency_key") or None)
    except ValidationError as exc:
        refused = {"status_code": 422, "submitted": submitted,
                   "error": "Nothing saved: " + "; ".join(e["msg"] for e in exc.errors())}
    except errors.Invalid as exc:
        refused = {"status_code": 422, "submitted": submitted, "row_errors": exc.detail["errors"],
                   "error": "Nothing saved: every error is shown on its row; your entries are kept."}
    except errors.Conflict as exc:
        stale = {str(r["id"]) for r in exc.detail.get("rows", [])}
        refused = {"status_code": 409, "submitted": {k: v for k, v in submitted.items() if k not in stale},
                   "error": f"{exc}. Rows changed by someone else now show their current values "
                            f"({', '.join(sorted(stale))}); your other entries are kept."}
    else:
        refused = None
    if refused is not None:  # the grid again, with the refusal and the entries kept
        async with runtime.db.session() as s:
            return await entries_page(request, s, rec_id, filters, page, params, **refused)
    msg = f"Saved {plural(len(result['saved']), 'row')}" + (
        f", added {plural(len(result['added_ids']), 'row')}." if result["added_ids"] else ".")
    return back(f"/reconciliations/{rec_id}/entries", message=msg, page=page, **params)


@router.get("/reconciliations/{rec_id}/entries/{entry_id}/others", response_class=HTMLResponse)
async def others(request: Request, session: Session, rec_id: str, entry_id: int, user: PageViewer,
                 error: str = "") -> HTMLResponse:
    rows = await entry_queries.get_entries(session, rec_id, [entry_id])
    if not rows:
        raise errors.NotFound("row not found")
    return render(request, "others.html", rec=await page_header(session, rec_id), r=rows[0], error=error)


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/others")
async def add_other(runtime: Runtime, rec_id: str, entry_id: int, user: PageEditor,
                    employee: Annotated[str, Form()], production_role: Annotated[str, Form()] = "",
                    production_credit: Annotated[str, Form()] = "", rate_type: Annotated[str, Form()] = "",
                    rate: Annotated[str, Form()] = "") -> Response:
    data = entry_schemas.OtherCommissionIn(employee=employee, production_role=production_role or None,
                                production_credit=production_credit or None, rate_type=rate_type or None,
                                rate=rate or None)
    result = await page_action(runtime, rec_id, user, people_uc.add_other_commission, entry_id, data)
    url = f"/reconciliations/{rec_id}/entries/{entry_id}/others"
    return back(url, error=result) if isinstance(result, str) else back(url)


@router.post("/reconciliations/{rec_id}/others/{other_id}/remove")
async def remove_other(runtime: Runtime, rec_id: str, other_id: int, user: PageEditor,
                       entry_id: Annotated[int, Form()]) -> Response:
    result = await page_action(runtime, rec_id, user, people_uc.remove_other_commission, other_id)
    url = f"/reconciliations/{rec_id}/entries/{entry_id}/others"
    return back(url, error=result) if isinstance(result, str) else back(url)


@router.get("/people-defaults", response_class=HTMLResponse)
async def people_defaults(request: Request, session: Session, user: PageViewer, carrier: str = "", error: str = "",
                          message: str = "") -> HTMLResponse:
    stmt = select(PeopleCommissionDefault).order_by(PeopleCommissionDefault.carrier, PeopleCommissionDefault.employee)
    if carrier:
        stmt = stmt.where(PeopleCommissionDefault.carrier == carrier)
    rows = (await session.execute(stmt.limit(500))).scalars().all()
    carriers = [c["name"] for c in await pick_list(session)]
    return render(request, "people_defaults.html", rows=rows, carrier=carrier, carriers=carriers, error=error,
                  message=message)


@router.post("/people-defaults")
async def save_people_default(runtime: Runtime, user: PageEditor, carrier: Annotated[str, Form()],
                              employee: Annotated[str, Form()], production_role: Annotated[str, Form()],
                              rate_type: Annotated[str, Form()], rate: Annotated[str, Form()],
                              credit_share: Annotated[str, Form()] = "") -> Response:
    try:
        data = entry_schemas.PeopleDefaultIn(production_role=production_role, rate_type=rate_type, rate=rate,
                                  credit_share=credit_share or None)
        async with runtime.uow(actor=user.login) as tx:
            await people_uc.set_people_default(tx, carrier.strip(), employee.strip(), data)
    except ValidationError as exc:
        return back("/people-defaults", error="; ".join(e["msg"] for e in exc.errors()), carrier=carrier)
    except errors.Invalid as exc:
        return back("/people-defaults", error=describe(exc), carrier=carrier)
    return back("/people-defaults", message=f"Default saved for {employee} at {carrier}.", carrier=carrier)
