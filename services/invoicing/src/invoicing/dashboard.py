"""invoicing's dashboard: reconciliations, statement entry, invoices, direct-bill transactions,
the exceptions popup and the printable reports. Pages call the same use cases as the API.

Forms carry an idempotency key made when the page was rendered, so a double click does the work
once. The statement-entry grid sends each row's values with the values it was rendered with: only
changed rows are saved (with the version they were read at), so two operators never overwrite each
other's rows silently."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from agency_common.auth import User
from agency_common.web import DashboardUser, render
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from invoicing import errors
from invoicing.domain.commission import BILL_TYPES, DISCREPANCY_TEXT
from invoicing.domain.duplicates import OVERRIDE_PERMISSION
from invoicing.invoices import queries as invoice_queries
from invoicing.invoices import schemas as invoice_schemas
from invoicing.invoices import usecases as invoice_uc
from invoicing.models import PeopleCommissionDefault, PolicyView, Reconciliation
from invoicing.payments import schemas as pay_schemas
from invoicing.payments import usecases as pay_uc
from invoicing.policy_view.carriers import pick_list
from invoicing.reconciliations import schemas as rec_schemas
from invoicing.reconciliations import status as rec_status
from invoicing.reconciliations import usecases as rec_uc
from invoicing.reports import remittance as reports
from invoicing.stages import abort as abort_uc
from invoicing.stages import create_pay_all as create_pay_all_uc
from invoicing.stages import jobs
from invoicing.statement_entry import duplicates
from invoicing.statement_entry import people as people_uc
from invoicing.statement_entry import queries as entry_queries
from invoicing.statement_entry import schemas as entry_schemas
from invoicing.statement_entry import usecases as entry_uc

router = APIRouter(include_in_schema=False)
PAGE = 50


def need(user: User, *permissions: str) -> None:
    missing = [p for p in permissions if not user.can(p)]
    if missing:
        raise HTTPException(403, f"missing permission: {', '.join(missing)}")


def back(url: str, **params: Any) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return RedirectResponse(url + (f"?{query}" if query else ""), status_code=303)


async def _header(request: Request, rec_id: str) -> dict[str, Any]:
    async with request.app.state.runtime.db.session() as s:
        rec = await s.get(Reconciliation, rec_id)
        if rec is None:
            raise HTTPException(404, "reconciliation not found")
        return rec_status.header(rec, await rec_status.totals(s, rec))


def plural(count: Any, noun: str) -> str:
    """ "1 invoice", "2 invoices": a flash message reads as a sentence."""
    return f"{count} {noun}{'' if str(count) == '1' else 's'}"


def _key() -> str:
    return str(uuid.uuid4())


def duplicates_words(result: dict[str, Any]) -> str:
    n = result.get("duplicates_excluded") or 0
    return (f"; {plural(n, 'selected row')} excluded as already invoiced or paid in another reconciliation "
            f"(confirm {'it' if n == 1 else 'them'} on statement entry to invoice again)") if n else ""


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, _user: DashboardUser) -> HTMLResponse:
    async with request.app.state.runtime.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(PolicyView))
        policies = (await session.execute(
            select(PolicyView).order_by(PolicyView.updated_at.desc()).limit(50))).scalars().all()
        by_status = dict((await session.execute(select(Reconciliation.status, func.count()).group_by(
            Reconciliation.status))).all())
    return render(request, "invoicing_home.html", total=total, policies=policies, by_status=by_status)


# -- reconciliations ----------------------------------------------------------------------------
@router.get("/reconciliations", response_class=HTMLResponse)
async def reconciliations(request: Request, user: DashboardUser, status: str = "", page: int = 1,
                          error: str = "", carrier: str = "") -> HTMLResponse:
    need(user, "reconciliations:view")
    cond = [Reconciliation.status == status] if status else []
    async with request.app.state.runtime.db.session() as s:
        total = await s.scalar(select(func.count()).select_from(Reconciliation).where(*cond))
        recs = (await s.execute(select(Reconciliation).where(*cond).order_by(Reconciliation.created_at.desc())
                                .limit(PAGE).offset((max(page, 1) - 1) * PAGE))).scalars().all()
        carriers = await pick_list(s)
    return render(request, "reconciliations.html", recs=recs, total=total, page=page, status=status,
                  carriers=carriers, carrier=carrier, error=error, pages=(total + PAGE - 1) // PAGE)


@router.post("/reconciliations/new")
async def new_reconciliation(request: Request, user: DashboardUser, carrier: Annotated[str, Form()],
                             subordinate_carrier: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                             address: Annotated[str, Form()] = "", date_booked: Annotated[str, Form()] = "",
                             description: Annotated[str, Form()] = "",
                             internal_note: Annotated[str, Form()] = "") -> Response:
    need(user, "reconciliations:edit")
    try:
        data = rec_schemas.NewReconciliation(carrier=carrier, subordinate_carrier=subordinate_carrier or None,
                                    name=name or None, address=address or None, date_booked=date_booked or None,
                                    description=description or None, internal_note=internal_note or None)
    except ValidationError as exc:
        return back("/reconciliations", error="; ".join(e["msg"] for e in exc.errors()), carrier=carrier)
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            rec = await rec_uc.open_reconciliation(
                tx, data, rec_uc.business_today(request.app.state.runtime.settings.business_timezone))
    except errors.Invalid as exc:
        return back("/reconciliations", error=_describe(exc), carrier=carrier)
    return back(f"/reconciliations/{rec['id']}")


@router.get("/reconciliations/{rec_id}", response_class=HTMLResponse)
async def reconciliation(request: Request, rec_id: str, user: DashboardUser, message: str = "",
                         error: str = "", popup: str = "") -> HTMLResponse:
    need(user, "reconciliations:view")
    rec = await _header(request, rec_id)
    async with request.app.state.runtime.db.session() as s:
        preview = await rec_uc.abort_preview(s, await s.get(Reconciliation, rec_id))
    return render(request, "reconciliation.html", rec=rec, message=message,
                  error=error, popup=popup, key=_key(), abort_preview=preview)


@router.post("/reconciliations/{rec_id}/header")
async def save_header(request: Request, rec_id: str, user: DashboardUser, version: Annotated[int, Form()],
                      name: Annotated[str, Form()] = "", address: Annotated[str, Form()] = "",
                      date_booked: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                      internal_note: Annotated[str, Form()] = "",
                      statement_total: Annotated[str, Form()] = "") -> Response:
    need(user, "reconciliations:edit")
    try:
        data = rec_schemas.HeaderEdit(name=name or None, address=address or None, date_booked=date_booked or None,
                             description=description or None, internal_note=internal_note or None,
                             statement_total=statement_total or None, version=version)
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            await rec_uc.edit_header(tx, rec_id, data)
    except ValidationError as exc:
        return back(f"/reconciliations/{rec_id}", error="; ".join(e["msg"] for e in exc.errors()))
    except errors.Conflict as exc:
        return back(f"/reconciliations/{rec_id}", error=str(exc))
    return back(f"/reconciliations/{rec_id}", message="Saved.")


async def _action(request: Request, rec_id: str, user: User, fn: Any, *args: Any) -> dict[str, Any] | str:
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            return await fn(tx, rec_id, *args)
    except errors.Invalid as exc:
        return _describe(exc)
    except (errors.Conflict, errors.NotFound) as exc:
        return str(exc)


def _describe(exc: errors.Invalid) -> str:
    """The message and every field error (``field: reason``), so a redirect loses none of them."""
    def flatten(errors: Any, path: str = "") -> list[str]:
        if isinstance(errors, dict):
            return [line for k, v in errors.items() for line in flatten(v, f"{path}{k}" if not path else f"{path}.{k}")]
        return [f"{path}: {errors}"]

    details = flatten(exc.detail.get("errors", {}))
    return f"{exc}: " + "; ".join(details) if details else str(exc)


async def _large(request: Request, rec_id: str, kind: str) -> bool:
    """Above the background threshold the action runs as a job (the operator may leave)."""
    runtime = request.app.state.runtime
    try:
        return await jobs.pending_count(runtime, rec_id, kind) > runtime.settings.background_threshold
    except errors.NotFound:
        return False  # the action itself answers "not found"


async def _job(request: Request, rec_id: str, user: User, kind: str, key: str | None) -> Response:
    try:
        started = await jobs.start(request.app.state.runtime, kind, rec_id, user.login, key)
    except (errors.Conflict, errors.NotFound) as exc:
        return back(f"/reconciliations/{rec_id}", error=str(exc))
    return back(f"/reconciliations/{rec_id}/jobs/{started['job']['id']}")


@router.post("/reconciliations/{rec_id}/create-invoices")
async def create_invoices(request: Request, rec_id: str, user: DashboardUser,
                          idempotency_key: Annotated[str, Form()]) -> Response:
    need(user, "reconciliations:edit")
    runtime = request.app.state.runtime
    async with runtime.db.session() as s:
        _lo, _hi, pending = await invoice_uc.pending_id_bounds(s, rec_id)
    if pending > runtime.settings.background_threshold:
        try:
            started = await jobs.start_create_invoices(runtime, rec_id, user.login, idempotency_key)
        except errors.Conflict as exc:
            return back(f"/reconciliations/{rec_id}", error=str(exc))
        return back(f"/reconciliations/{rec_id}/jobs/{started['job']['id']}")
    result = await _action(request, rec_id, user, invoice_uc.create_invoices, idempotency_key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    msg = (f"{plural(result['created'], 'invoice')} created; {plural(result['exceptions'], 'exception')}; "
           f"{plural(result['invalid'], 'selected row')} with errors left in statement entry"
           + duplicates_words(result) + ".")
    return back(f"/reconciliations/{rec_id}/invoices", message=msg)


# a job's kind in the words of the button that started it
JOB_TITLES = {"create-invoices": "Create Invoices", "post": "Post Invoices", "pay": "Pay All Selected",
              "create-pay-all": "Create/Pay Invoices", "create-pay-post": "Create/Pay Invoices - Post"}


@router.get("/reconciliations/{rec_id}/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, rec_id: str, job_id: str, user: DashboardUser) -> HTMLResponse:
    need(user, "reconciliations:view")
    try:
        job = await jobs.get_job(request.app.state.runtime, job_id)
    except errors.NotFound:
        raise HTTPException(404, "job not found") from None
    return render(request, "job.html", job=job, rec_id=rec_id, plural=plural,
                  title=JOB_TITLES.get(job["kind"], job["kind"]))


@router.post("/reconciliations/{rec_id}/create-pay-all", response_class=HTMLResponse)
async def create_pay_all(request: Request, rec_id: str, user: DashboardUser,
                         idempotency_key: Annotated[str, Form()], decision: Annotated[str, Form()] = "") -> Response:
    need(user, "reconciliations:edit", "reconciliations:post", "reconciliations:pay")
    if decision in ("", "create_pay", "create_pay_post") and await _large(request, rec_id, "create-pay-all"):
        try:
            result = await jobs.start_create_pay_all(request.app.state.runtime, rec_id, user.login,
                                                     decision or None, idempotency_key)
        except (errors.Conflict, errors.NotFound) as exc:
            result = str(exc)
    else:
        result = await _action(request, rec_id, user, create_pay_all_uc.create_pay_all, decision or None,
                               idempotency_key if decision != "cancel" else None)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    if result.get("background"):
        return back(f"/reconciliations/{rec_id}/jobs/{result['job']['id']}")
    if result["outcome"] == "exceptions":
        return render(request, "exceptions_popup.html", rec=result["reconciliation"], result=result,
                      key=_key(), texts=DISCREPANCY_TEXT)
    if result["outcome"] == "cancelled":
        return back(f"/reconciliations/{rec_id}", message="Create/Pay All cancelled.")
    if result["outcome"] == "aborted":
        return back(f"/reconciliations/{rec_id}", message="Reconciliation aborted; no invoices were created.")
    msg = (f"{plural(result['created'], 'invoice')} created, posted and paid ({result['received_total']} received)"
           + duplicates_words(result) + ".")
    if result["next"] == "post":
        return back(f"/reconciliations/{rec_id}", message=msg, popup="post")
    return back(f"/reconciliations/{rec_id}/transactions", message=msg)


@router.post("/reconciliations/{rec_id}/abort")
async def abort(request: Request, rec_id: str, user: DashboardUser,
                idempotency_key: Annotated[str, Form()]) -> Response:
    need(user, "reconciliations:edit")
    result = await _action(request, rec_id, user, abort_uc.abort, idempotency_key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    msg = (f"Reconciliation aborted at stage {result.get('aborted_stage', '')}: "
           f"{plural(result.get('invoices_removed', 0), 'unposted invoice')} removed")
    offered = result.get("offered_to_next") or {}
    msg += f"; {offered['message']}." if offered.get("count") else "."
    return back(f"/reconciliations/{rec_id}", message=msg)


@router.post("/reconciliations/{rec_id}/close")
async def close(request: Request, rec_id: str, user: DashboardUser, idempotency_key: Annotated[str, Form()]) -> Response:
    need(user, "reconciliations:post")
    result = await _action(request, rec_id, user, rec_uc.close_reconciliation, idempotency_key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}", error=result)
    return back(f"/reconciliations/{rec_id}", message="Reconciliation posted.")


# -- statement entry ----------------------------------------------------------------------------
FILTER_FIELDS = list(entry_schemas.EntryFilters.model_fields)


def _filters_from(params: dict[str, Any]) -> tuple[entry_schemas.EntryFilters, str | None]:
    raw = {k: v for k, v in params.items() if k in FILTER_FIELDS and v not in ("", None)}
    if params.get("searched") and "include_selected" not in params:  # an unchecked box is not sent
        raw["include_selected"] = False
    try:
        return entry_schemas.EntryFilters(**raw), None
    except ValidationError as exc:
        return entry_schemas.EntryFilters(), "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())


@router.get("/reconciliations/{rec_id}/entries", response_class=HTMLResponse)
async def entries(request: Request, rec_id: str, user: DashboardUser, page: int = 1) -> HTMLResponse:
    need(user, "reconciliations:view")
    params = dict(request.query_params)
    filters, error = _filters_from(params)
    return await _entries_page(request, rec_id, filters, max(page, 1), params, error=error or params.get("error"),
                               message=params.get("message"))


async def _entries_page(request: Request, rec_id: str, filters: entry_schemas.EntryFilters, page: int, params: dict[str, Any],
                        *, error: str | None = None, message: str | None = None,
                        row_errors: dict[str, dict[str, str]] | None = None,
                        submitted: dict[str, dict[str, str]] | None = None, status_code: int = 200) -> HTMLResponse:
    rec = await _header(request, rec_id)
    async with request.app.state.runtime.db.session() as s:
        result = await entry_queries.search_entries(s, rec_id, filters, PAGE, (page - 1) * PAGE)
    query = {k: v for k, v in params.items() if k in FILTER_FIELDS or k == "searched"}
    return render(request, "entries.html", status_code=status_code, rec=rec, result=result, f=filters,
                  page=page, pages=(result["total"] + PAGE - 1) // PAGE, query=urlencode(query),
                  error=error, message=message, row_errors=row_errors or {}, submitted=submitted or {},
                  bill_types=BILL_TYPES, sort_fields=list(entry_schemas.SORT_FIELDS), key=_key(),
                  can_override=_can_override(request))


@router.post("/reconciliations/{rec_id}/entries/reset", response_class=HTMLResponse)
async def reset(request: Request, rec_id: str, user: DashboardUser) -> Response:
    """Search with "reset premium and commission to zero" (it unchecks after the search)."""
    need(user, "reconciliations:edit")
    form = dict(await request.form())
    filters, error = _filters_from(form)
    if error:
        return back(f"/reconciliations/{rec_id}/entries", error=error)
    result = await _action(request, rec_id, user, entry_uc.reset_amounts, filters)
    params = {k: v for k, v in form.items() if k in FILTER_FIELDS or k == "searched"}
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/entries", error=result, **params)
    return back(f"/reconciliations/{rec_id}/entries", message=f"{plural(result['reset'], 'row')} reset to zero.", **params)


@router.post("/reconciliations/{rec_id}/entries/select-found")
async def select_found(request: Request, rec_id: str, user: DashboardUser) -> Response:
    """Select (or unselect) every row the current search finds, in one statement."""
    need(user, "reconciliations:edit")
    form = dict(await request.form())
    params = {k[2:]: v for k, v in form.items() if k.startswith("q-")}
    filters, _ = _filters_from(params)
    selected = form.get("selected", "1") == "1"
    result = await _action(request, rec_id, user, entry_uc.select_entries, selected, None, filters)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/entries", error=result, **params)
    return back(f"/reconciliations/{rec_id}/entries",
                message=f"{plural(result['changed'], 'row')} {'selected' if selected else 'unselected'}.", **params)


def _can_override(request: Request) -> bool:
    user = getattr(request.state, "user", None)
    return bool(user and user.can(OVERRIDE_PERMISSION))


@router.post("/reconciliations/{rec_id}/entries/confirm-duplicates")
async def confirm_duplicates(request: Request, rec_id: str, user: DashboardUser) -> Response:
    """Invoice again the flagged rows: one (``entry``) or every selected one; records the user."""
    need(user, "reconciliations:edit", OVERRIDE_PERMISSION)
    form = dict(await request.form())
    params = {k[2:]: v for k, v in form.items() if k.startswith("q-")}
    entry = str(form.get("confirm_entry") or "")
    data = entry_schemas.DuplicateConfirmation(ids=[int(entry)] if entry.isdigit() else None, selection=not entry.isdigit())
    result = await _action(request, rec_id, user, duplicates.confirm_duplicates, data)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/entries", error=result, **params)
    return back(f"/reconciliations/{rec_id}/entries", page=form.get("page") or None, **params,
                message=f"{plural(result['changed'], 'row')} confirmed: invoiced again by the next Create Invoices.")


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/select", response_class=HTMLResponse)
async def toggle_select(request: Request, rec_id: str, entry_id: int, user: DashboardUser) -> Response:
    """The row's checkbox: selecting saves the row at once (htmx swaps the row)."""
    need(user, "reconciliations:edit")
    form = dict(await request.form())
    selected = form.get(f"sel-{entry_id}") in ("on", "true", "1")
    edit, _changed = _edit_from_form(form, entry_id)
    edit["selected"] = selected
    if not selected:
        edit = {"id": entry_id, "selected": False}
    error = None
    row_errors: dict[str, str] = {}
    try:
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            await entry_uc.save_entries(tx, rec_id, [entry_schemas.EntryEdit(**edit)])
    except errors.Invalid as exc:
        row_errors = exc.detail["errors"].get(str(entry_id), {})
        error = "Not selected: fix the errors first."
    except errors.Conflict as exc:
        error = f"{exc} — the row shows its current values."
    async with request.app.state.runtime.db.session() as s:
        (row,) = await entry_queries.get_entries(s, rec_id, [entry_id])
    rec = await _header(request, rec_id)
    return render(request, "entry_row.html", r=row, rec=rec, row_error=error, errs=row_errors, oob=True,
                  can_override=user.can(OVERRIDE_PERMISSION),
                  sub={} if not row_errors else {k.removeprefix(f"row-{entry_id}-"): v for k, v in form.items()
                                                 if k.startswith(f"row-{entry_id}-")},
                  bill_types=BILL_TYPES)


def _edit_from_form(form: dict[str, Any], entry_id: int) -> tuple[dict[str, Any], bool]:
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
async def save(request: Request, rec_id: str, user: DashboardUser) -> Response:
    need(user, "reconciliations:edit")
    form = dict(await request.form())
    params = {k: v for k, v in form.items() if k.startswith("q-")}
    params = {k[2:]: v for k, v in params.items()}
    page = int(form.get("page", 1) or 1)
    ids = sorted({int(k.split("-")[1]) for k in form if k.startswith("version-")})
    edits, submitted = [], {}
    for entry_id in ids:
        edit, changed = _edit_from_form(form, entry_id)
        if changed:
            edits.append(edit)
            submitted[str(entry_id)] = {f: form[f"row-{entry_id}-{f}"] for f in (*entry_uc.EDITABLE, "add_rows", "policy_number")
                                        if f"row-{entry_id}-{f}" in form}
    filters, _ = _filters_from(params)
    if not edits:
        return back(f"/reconciliations/{rec_id}/entries", message="Nothing changed.", page=page, **params)
    try:
        parsed = [entry_schemas.EntryEdit(**e) for e in edits]
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            result = await entry_uc.save_entries(tx, rec_id, parsed, form.get("idempotency_key") or None)
    except ValidationError as exc:
        return await _entries_page(request, rec_id, filters, page, params, status_code=422, submitted=submitted,
                                   error="Nothing saved: " + "; ".join(e["msg"] for e in exc.errors()))
    except errors.Invalid as exc:
        return await _entries_page(request, rec_id, filters, page, params, status_code=422, submitted=submitted,
                                   row_errors=exc.detail["errors"],
                                   error="Nothing saved: every error is shown on its row; your entries are kept.")
    except errors.Conflict as exc:
        stale = {str(r["id"]) for r in exc.detail.get("rows", [])}
        keep = {k: v for k, v in submitted.items() if k not in stale}
        return await _entries_page(request, rec_id, filters, page, params, status_code=409, submitted=keep,
                                   error=f"{exc}. Rows changed by someone else now show their current values "
                                         f"({', '.join(sorted(stale))}); your other entries are kept.")
    msg = f"Saved {plural(len(result['saved']), 'row')}" + (
        f", added {plural(len(result['added_ids']), 'row')}." if result["added_ids"] else ".")
    return back(f"/reconciliations/{rec_id}/entries", message=msg, page=page, **params)


@router.get("/reconciliations/{rec_id}/entries/{entry_id}/others", response_class=HTMLResponse)
async def others(request: Request, rec_id: str, entry_id: int, user: DashboardUser, error: str = "") -> HTMLResponse:
    need(user, "reconciliations:view")
    async with request.app.state.runtime.db.session() as s:
        rows = await entry_queries.get_entries(s, rec_id, [entry_id])
    if not rows:
        raise HTTPException(404, "row not found")
    return render(request, "others.html", rec=await _header(request, rec_id), r=rows[0], error=error)


@router.post("/reconciliations/{rec_id}/entries/{entry_id}/others")
async def add_other(request: Request, rec_id: str, entry_id: int, user: DashboardUser,
                    employee: Annotated[str, Form()], production_role: Annotated[str, Form()] = "",
                    production_credit: Annotated[str, Form()] = "", rate_type: Annotated[str, Form()] = "",
                    rate: Annotated[str, Form()] = "") -> Response:
    need(user, "reconciliations:edit")
    data = entry_schemas.OtherCommissionIn(employee=employee, production_role=production_role or None,
                                production_credit=production_credit or None, rate_type=rate_type or None,
                                rate=rate or None)
    result = await _action(request, rec_id, user, people_uc.add_other_commission, entry_id, data)
    url = f"/reconciliations/{rec_id}/entries/{entry_id}/others"
    return back(url, error=result) if isinstance(result, str) else back(url)


@router.post("/reconciliations/{rec_id}/others/{other_id}/remove")
async def remove_other(request: Request, rec_id: str, other_id: int, user: DashboardUser,
                       entry_id: Annotated[int, Form()]) -> Response:
    need(user, "reconciliations:edit")
    result = await _action(request, rec_id, user, people_uc.remove_other_commission, other_id)
    url = f"/reconciliations/{rec_id}/entries/{entry_id}/others"
    return back(url, error=result) if isinstance(result, str) else back(url)


# -- unposted invoices and direct-bill transactions ---------------------------------------------
def _invoice_filters(params: dict[str, Any]) -> tuple[invoice_schemas.InvoiceFilters, str | None]:
    raw = {k: v for k, v in params.items() if k in invoice_schemas.InvoiceFilters.model_fields and v not in ("", None)}
    try:
        return invoice_schemas.InvoiceFilters(**raw), None
    except ValidationError as exc:
        return invoice_schemas.InvoiceFilters(), "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())


def _page_size(params: dict[str, Any]) -> int:
    """Rows per page: ``size`` (1 to 500), else the default."""
    raw = str(params.get("size") or "")
    return min(max(int(raw), 1), 500) if raw.isdigit() else PAGE


async def _invoice_page(request: Request, rec_id: str, template: str, statuses: tuple[str, ...]) -> HTMLResponse:
    params = dict(request.query_params)
    filters, error = _invoice_filters(params)
    page = max(int(params.get("page", 1) or 1), 1)
    size = _page_size(params)
    async with request.app.state.runtime.db.session() as s:
        result = await invoice_queries.list_invoices(s, rec_id, statuses, filters, size, (page - 1) * size)
        selection = await pay_uc.selection_totals(s, rec_id)
    kept = {k: v for k, v in params.items() if k in invoice_schemas.InvoiceFilters.model_fields or k == "size"}
    return render(request, template, rec=await _header(request, rec_id), result=result, f=filters, page=page,
                  pages=(result["total"] + size - 1) // size, query=urlencode(kept), error=error or params.get("error"),
                  message=params.get("message"), key=_key(), bill_types=BILL_TYPES,
                  sorts=list(invoice_queries.INVOICE_SORTS), selection=selection, size=size,
                  kept={k: v for k, v in kept.items() if v not in ("", None)})


@router.get("/reconciliations/{rec_id}/invoices", response_class=HTMLResponse)
async def invoices(request: Request, rec_id: str, user: DashboardUser) -> HTMLResponse:
    need(user, "reconciliations:view")
    return await _invoice_page(request, rec_id, "invoices.html", ("unposted",))


@router.post("/reconciliations/{rec_id}/invoices/{invoice_id}/remove")
async def remove_invoice(request: Request, rec_id: str, invoice_id: int, user: DashboardUser) -> Response:
    need(user, "reconciliations:edit")
    result = await _action(request, rec_id, user, invoice_uc.remove_invoice, invoice_id)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/invoices", error=result)
    return back(f"/reconciliations/{rec_id}/invoices", message=f"Invoice {invoice_id}(S) removed.")


@router.post("/reconciliations/{rec_id}/post-invoices")
async def post_invoices(request: Request, rec_id: str, user: DashboardUser) -> Response:
    need(user, "reconciliations:post")
    form = await request.form()
    ids = [int(v) for v in form.getlist("invoice")] or None
    key = str(form.get("idempotency_key") or "") or None
    if ids is None and await _large(request, rec_id, "post"):
        return await _job(request, rec_id, user, "post", key)
    result = await _action(request, rec_id, user, invoice_uc.post_invoices, ids, key)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/invoices", error=result)
    return back(f"/reconciliations/{rec_id}/transactions", message=f"{plural(result['posted'], 'invoice')} posted.")


@router.get("/reconciliations/{rec_id}/transactions", response_class=HTMLResponse)
async def transactions(request: Request, rec_id: str, user: DashboardUser) -> HTMLResponse:
    need(user, "reconciliations:view")
    return await _invoice_page(request, rec_id, "transactions.html", ("posted", "paid"))


@router.post("/reconciliations/{rec_id}/transactions/save")
async def save_transactions(request: Request, rec_id: str, user: DashboardUser) -> Response:
    need(user, "reconciliations:pay")
    form = await request.form()
    ids = sorted({int(k.split("-")[1]) for k in form if k.startswith("shown-")})
    edits = []
    for invoice_id in ids:
        selected = form.get(f"sel-{invoice_id}") == "on"
        was = form.get(f"was-{invoice_id}") == "1"
        received = str(form.get(f"received-{invoice_id}") or "")
        old = str(form.get(f"oldreceived-{invoice_id}") or "")
        if selected != was or (selected and received != old):
            # a newly selected row with an unchanged (empty) Received is filled with its balance
            edits.append(pay_schemas.TransactionEdit(invoice_id=invoice_id, selected=selected,
                                            received=received if (selected and received != old) else None,
                                            seen_selected=was, seen_received=old,
                                            seen_paid_to_date=str(form.get(f"paid-{invoice_id}") or "") or None))
    pay_now = form.get("action") == "pay"
    if edits:
        result = await _action(request, rec_id, user, pay_uc.edit_transactions, edits)
        if isinstance(result, str):
            return back(f"/reconciliations/{rec_id}/transactions", error=result)
    if pay_now:
        key = str(form.get("idempotency_key") or "") or None
        if await _large(request, rec_id, "pay"):
            return await _job(request, rec_id, user, "pay", key)
        result = await _action(request, rec_id, user, pay_uc.pay_selected, key)
        if isinstance(result, str):
            return back(f"/reconciliations/{rec_id}/transactions", error=result)
        return back(f"/reconciliations/{rec_id}/transactions",
                    message=f"Paid {plural(result['paid'], 'invoice')}: {result['received_total']} received.")
    return back(f"/reconciliations/{rec_id}/transactions", message=f"Saved {plural(len(edits), 'row')}.")


@router.post("/reconciliations/{rec_id}/transactions/select-all")
async def select_all(request: Request, rec_id: str, user: DashboardUser) -> Response:
    """Select (Received = Balance) or clear every posted, unpaid invoice the current filters find,
    on every page (``selected`` 1 or 0; the filters come as ``q-`` fields)."""
    need(user, "reconciliations:pay")
    form = dict(await request.form())
    params = {k[2:]: v for k, v in form.items() if k.startswith("q-")}
    filters, error = _invoice_filters(params)
    if error:
        return back(f"/reconciliations/{rec_id}/transactions", error=error)
    selected = form.get("selected", "1") == "1"
    result = await _action(request, rec_id, user, pay_uc.select_all_transactions, selected, filters)
    if isinstance(result, str):
        return back(f"/reconciliations/{rec_id}/transactions", error=result, **params)
    words = f"{result['changed']} selected, Received = Balance." if selected else f"{result['changed']} cleared."
    return back(f"/reconciliations/{rec_id}/transactions", message=words, **params)


@router.post("/reconciliations/{rec_id}/transactions/{invoice_id}/select", response_class=HTMLResponse)
async def toggle_transaction(request: Request, rec_id: str, invoice_id: int, user: DashboardUser) -> Response:
    """A row's checkbox: the tick is saved at once (it survives a change of page); htmx swaps the
    row and the "N selected (total $X)" line."""
    need(user, "reconciliations:pay")
    form = dict(await request.form())
    selected = form.get(f"sel-{invoice_id}") in ("on", "true", "1")
    received = str(form.get(f"received-{invoice_id}") or "")
    old = str(form.get(f"oldreceived-{invoice_id}") or "")
    edit = pay_schemas.TransactionEdit(invoice_id=invoice_id, selected=selected,
                              received=received if (selected and received != old) else None,
                              seen_selected=form.get(f"was-{invoice_id}") == "1", seen_received=old,
                              seen_paid_to_date=str(form.get(f"paid-{invoice_id}") or "") or None)
    result = await _action(request, rec_id, user, pay_uc.edit_transactions, [edit])
    row_error = result if isinstance(result, str) else None
    async with request.app.state.runtime.db.session() as s:
        rows = await invoice_queries.get_transactions(s, rec_id, [invoice_id])
        selection = await pay_uc.selection_totals(s, rec_id)
    if not rows:
        raise HTTPException(404, "transaction not found")
    return render(request, "transaction_row.html", i=rows[0], rec=await _header(request, rec_id),
                  selection=selection, row_error=row_error, oob=True)


# -- reports ------------------------------------------------------------------------------------
@router.get("/reconciliations/{rec_id}/reports/{kind}", response_class=HTMLResponse)
async def report(request: Request, rec_id: str, kind: str, user: DashboardUser) -> HTMLResponse:
    need(user, "reconciliations:view")
    async with request.app.state.runtime.db.session() as s:
        try:
            rep = await reports.build(s, rec_id, kind, row_limit=reports.HTML_ROW_LIMIT)
        except errors.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
    return render(request, "report_print.html", report=rep, rec_id=rec_id, limit=reports.HTML_ROW_LIMIT)


# -- per-carrier other-commission defaults ------------------------------------------------------
@router.get("/people-defaults", response_class=HTMLResponse)
async def people_defaults(request: Request, user: DashboardUser, carrier: str = "", error: str = "",
                          message: str = "") -> HTMLResponse:
    need(user, "reconciliations:view")
    stmt = select(PeopleCommissionDefault).order_by(PeopleCommissionDefault.carrier, PeopleCommissionDefault.employee)
    if carrier:
        stmt = stmt.where(PeopleCommissionDefault.carrier == carrier)
    async with request.app.state.runtime.db.session() as s:
        rows = (await s.execute(stmt.limit(500))).scalars().all()
        carriers = [c["name"] for c in await pick_list(s)]
    return render(request, "people_defaults.html", rows=rows, carrier=carrier, carriers=carriers, error=error,
                  message=message)


@router.post("/people-defaults")
async def save_people_default(request: Request, user: DashboardUser, carrier: Annotated[str, Form()],
                              employee: Annotated[str, Form()], production_role: Annotated[str, Form()],
                              rate_type: Annotated[str, Form()], rate: Annotated[str, Form()],
                              credit_share: Annotated[str, Form()] = "") -> Response:
    need(user, "reconciliations:edit")
    try:
        data = entry_schemas.PeopleDefaultIn(production_role=production_role, rate_type=rate_type, rate=rate,
                                  credit_share=credit_share or None)
        async with request.app.state.runtime.uow(actor=user.login) as tx:
            await people_uc.set_people_default(tx, carrier.strip(), employee.strip(), data)
    except ValidationError as exc:
        return back("/people-defaults", error="; ".join(e["msg"] for e in exc.errors()), carrier=carrier)
    except errors.Invalid as exc:
        return back("/people-defaults", error=_describe(exc), carrier=carrier)
    return back("/people-defaults", message=f"Default saved for {employee} at {carrier}.", carrier=carrier)
