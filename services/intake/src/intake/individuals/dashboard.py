"""Dashboard: Individual Advanced Search, saved searches, Create Sales Records (with confirmation)
and the job's progress."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from agency_common.auth import User
from agency_common.listing import MAX_OFFSET, Page
from agency_common.tabular import TabularError, csv_bytes
from agency_common.web import page_permission, render
from agency_common.web.deps import Offset, Runtime, Session
from agency_common.web.downloads import attachment
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import select

from intake.errors import Invalid, NotFound, UseCaseError
from intake.individuals.domain.fields import (
    CARRIED_FIELDS,
    CUSTOM_FIELD_TYPES,
    DATE_FIELDS,
    FIELD_LABELS,
    PII_FIELDS,
    STANDARD_FIELDS,
    SUGGESTIONS,
    US_STATES,
    custom_display,
    custom_input,
    name_problem,
)
from intake.individuals.domain.searches import CRITERIA_LABELS
from intake.individuals.import_jobs import ImportJobs
from intake.individuals.import_jobs import job_json as import_job_json
from intake.individuals.importing import invalid_rows_csv, results_csv, save_upload, template_columns
from intake.individuals.pii import require_cipher
from intake.individuals.pii_audit import record_invalid_rows_export, record_reveals, record_search_export
from intake.individuals.queries import (
    INDIVIDUAL_POLICY_SORTING,
    INDIVIDUAL_RECORD_SORTING,
    SALES_RECORD_SORTING,
    SAVED_SEARCH_SORTING,
    audits_of,
    individual_policies,
    individual_sales_records,
    preview_counts,
    sales_records,
    saved_searches,
    search,
    search_export_csv,
)
from intake.individuals.queries import (
    SORTS as SEARCH_SORTS,
)
from intake.individuals.sales_record_jobs import SalesJobs, start_job
from intake.individuals.schemas import (
    IndividualIn,
    SalesRecordJobIn,
    SavedSearchChange,
    SearchCriteria,
    form_problems,
    individual_json,
    job_json,
    sales_record_json,
    saved_search_json,
)
from intake.individuals.usecases import (
    change_search,
    convert_to_individual,
    create_individual,
    delete_search,
    edit_individual,
    edit_sales_record,
    save_search,
)
from intake.models import Individual, SalesRecord, SalesRecordJob, SavedSearch
from intake.web import part_of

router = APIRouter(include_in_schema=False)
PAGE = 50
SEARCHES_SHOWN = 10  # on the search page; the rest on the saved searches' own page
IMPORT_ROWS_SHOWN = 2000  # the rest is in the results CSV
CRITERIA_FIELDS = list(SearchCriteria.model_fields)
# who may open what (the API's permissions for the same work)
Viewer = Annotated[User, page_permission("individuals:view")]
Editor = Annotated[User, page_permission("individuals:edit")]
SearchSaver = Annotated[User, page_permission("individuals:view", "searches:save")]
SalesViewer = Annotated[User, page_permission("sales_enablement:view")]
SalesEditor = Annotated[User, page_permission("sales_enablement:edit")]
SalesRecordMaker = Annotated[User, page_permission("individuals:edit", "sales_enablement:view")]


def _number(text: str | None, default: int) -> int:
    """A page number or offset from the query: a bad or huge one is the default (the page never fails on it)."""
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if 0 <= value <= MAX_OFFSET else default


def _criteria(params: dict[str, Any]) -> SearchCriteria:
    values = {k: v for k, v in params.items() if k in CRITERIA_FIELDS and str(v).strip() != ""}
    return SearchCriteria.model_validate(values)


@router.get("/individuals", response_class=HTMLResponse)
async def search_page(request: Request, runtime: Runtime, user: Viewer, error: str | None = None,
                      message: str | None = None) -> HTMLResponse:
    params = dict(request.query_params)
    saved_id = params.get("saved_search_id")
    page = max(_number(params.get("page"), 1), 1)
    # the results a page at a time: ``offset`` (the pager's links), or ``page`` as before
    offset = _number(params.get("offset"), (page - 1) * PAGE) if "offset" in params else (page - 1) * PAGE
    sort = params.get("sort") if (params.get("sort") or "").removeprefix("-") in SEARCH_SORTS else "last_name"
    items: list[dict[str, Any]] = []
    total, counts = 0, None
    saved_search_id: str | None = None
    try:
        async with runtime.db.session() as session:
            if saved_id:
                saved = await session.get(SavedSearch, saved_id)
                if saved is not None:
                    saved_search_id = saved.id  # the job is recorded next to the saved search
                    params = {**SearchCriteria.model_validate_json(saved.criteria).model_dump(exclude_none=True), **params}
            c = _criteria(params)
            if params.get("run"):
                total, rows = await search(session, c, sort=sort, limit=PAGE, offset=offset)
                items = [individual_json(i, require_cipher(runtime), user.can("pii:reveal")) for i in rows]
                if user.can("individuals:edit") and user.can("sales_enablement:view"):
                    counts = await preview_counts(session, c)
            searches_page = await saved_searches(session, SAVED_SEARCH_SORTING.default, 0, SEARCHES_SHOWN)
            searches = searches_page.items
            jobs = (await session.execute(select(SalesRecordJob).order_by(SalesRecordJob.created_at.desc()).limit(20))).scalars().all()
    except (ValidationError, UseCaseError, ValueError) as exc:
        c, searches, jobs, error, searches_page = SearchCriteria(), [], [], str(exc), None
    await record_reveals(runtime, user, [i["id"] for i in items])  # after the read session closes
    query = urlencode(c.model_dump(exclude_none=True, mode="json"))
    kept = {"run": "1", **({"saved_search_id": saved_search_id} if saved_search_id else {}),
            **{k: str(v) for k, v in c.model_dump(exclude_none=True, mode="json").items()}}
    results = Page(items, total, offset, PAGE, sort, kept)
    return render(request, "intake_individuals.html", criteria=c.model_dump(exclude_none=True, mode="json"),
                  results=results,
                  fields=CRITERIA_FIELDS, items=items, total=total, page=page, query=query, counts=counts,
                  searches=[saved_search_json(s) for s in searches], jobs=[job_json(j) for j in jobs],
                  types=runtime.settings.sales_record_types, idempotency_key=str(uuid.uuid4()),
                  error=error, message=message, ran=bool(params.get("run")), saved_search_id=saved_search_id,
                  can_edit=user.can("individuals:edit"), searches_total=searches_page.total if searches_page else 0)


@router.get("/individuals/export.csv")
async def export_csv(request: Request, runtime: Runtime, user: Viewer) -> Response:
    """The search's whole result as CSV (PII masked unless the user may reveal it)."""
    try:
        c = _criteria(dict(request.query_params))
    except ValidationError as exc:
        raise Invalid(str(exc)) from None
    await record_search_export(runtime, user, c)
    return StreamingResponse(search_export_csv(runtime.db, c, require_cipher(runtime), user.can("pii:reveal")),
                             media_type="text/csv", headers=attachment("individuals.csv"))


@router.post("/individuals/saved-searches")
async def save_search_form(request: Request, runtime: Runtime, user: SearchSaver) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        async with runtime.uow(actor=user.login) as tx:
            # The form field is not called "name": that is a search criterion ("name contains").
            s = await save_search(tx, form.get("search_name", ""), _criteria(form))
    except (ValidationError, UseCaseError) as exc:
        return await search_page(request, runtime, user, error=str(exc))
    return RedirectResponse(f"/individuals?saved_search_id={s.id}&run=1", status_code=303)


@router.get("/individuals/saved-searches", response_class=HTMLResponse)
async def saved_searches_page(request: Request, session: Session, user: Viewer, sort: str = "", offset: Offset = 0,
                              limit: int = 50, owner: str = "", message: str = "") -> HTMLResponse:
    """Every saved search, its criteria in words, sortable, a page at a time; its owner edits or deletes it."""
    found = await saved_searches(session, SAVED_SEARCH_SORTING.valid(sort), offset, max(1, min(limit, 200)),
                                 owner=owner.strip()[:100] or None, query={"owner": owner} if owner else None)
    found.items = [saved_search_json(s) for s in found.items]
    return render(request, "intake_saved_searches.html", page=found, owner=owner, message=message[:200],
                  login=user.login, may_manage=user.can("searches:manage"), can_save=user.can("searches:save"))


async def _search_form(request: Request, runtime: Any, user: User, search_id: str, *, name: str | None = None,
                       criteria: dict[str, Any] | None = None, problems: dict[str, str] | None = None,
                       status_code: int = 200) -> HTMLResponse:
    async with runtime.db.session() as session:
        s = await session.get(SavedSearch, search_id)
    if s is None:
        raise NotFound("No such saved search.")
    shown = saved_search_json(s)
    return render(request, "intake_saved_search_form.html", status_code=status_code, search=shown,
                  name=shown["name"] if name is None else name,
                  criteria=shown["criteria"] if criteria is None else criteria, fields=CRITERIA_FIELDS,
                  labels=CRITERIA_LABELS, problems=problems or {})


@router.get("/individuals/saved-searches/{search_id}/edit", response_class=HTMLResponse)
async def edit_search_page(request: Request, runtime: Runtime, search_id: str, user: SearchSaver) -> HTMLResponse:
    return await _search_form(request, runtime, user, search_id)


@router.post("/individuals/saved-searches/{search_id}/edit")
async def edit_search_form(request: Request, runtime: Runtime, search_id: str, user: SearchSaver) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    typed = {k: v for k, v in form.items() if k in CRITERIA_FIELDS and v}
    labels = CRITERIA_LABELS | {f"{r}_{end}": f"{CRITERIA_LABELS[r]} {end}" for r in ("policy_effective", "policy_renewal")
                                for end in ("from", "to")} | {"name": "Name of the search"}
    problems: dict[str, str] = {}
    criteria = None
    try:
        criteria = _criteria(typed)
    except ValidationError as exc:
        problems |= form_problems(exc, labels)
    try:
        change = SavedSearchChange(name=form.get("search_name", ""), criteria=criteria)
    except ValidationError as exc:  # the search's own name (its form field: ``name`` is a criterion)
        problems["search_name"] = "; ".join(form_problems(exc, {"name": "Name of the search"}).values())
    try:
        if problems:
            raise FormRefused(problems)
        async with runtime.uow(actor=user.login) as tx:
            await change_search(tx, search_id, change, may_manage=user.can("searches:manage"))
    except FormRefused as exc:
        return await _search_form(request, runtime, user, search_id, name=form.get("search_name", ""),
                                  criteria=typed, problems=exc.problems, status_code=422)
    except UseCaseError as exc:
        return await _search_form(request, runtime, user, search_id, name=form.get("search_name", ""),
                                  criteria=typed, problems={"": str(exc)}, status_code=exc.status_code)
    return RedirectResponse("/individuals/saved-searches?message=saved", status_code=303)


@router.post("/individuals/saved-searches/{search_id}/delete")
async def delete_search_form(request: Request, runtime: Runtime, search_id: str, user: SearchSaver) -> Response:
    try:
        async with runtime.uow(actor=user.login) as tx:
            await delete_search(tx, search_id, may_manage=user.can("searches:manage"))
    except UseCaseError as exc:
        return await _search_form(request, runtime, user, search_id, problems={"": str(exc)},
                                  status_code=exc.status_code)
    return RedirectResponse("/individuals/saved-searches?message=deleted", status_code=303)


@router.post("/individuals/sales-records")
async def create_sales_records_form(request: Request, runtime: Runtime, sales_jobs: SalesJobs,
                                    user: SalesRecordMaker) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        body = SalesRecordJobIn(idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()),
                                sales_record_type=form.get("sales_record_type", ""), criteria=_criteria(form),
                                saved_search_id=form.get("saved_search_id") or None)
        async with runtime.uow(actor=user.login) as tx:
            job, created = await start_job(tx, body, runtime.settings.sales_record_types)
    except (ValidationError, UseCaseError) as exc:
        return await search_page(request, runtime, user, error=str(exc))
    if created:
        sales_jobs.launch(job.id)
    return RedirectResponse(f"/sales-record-jobs/{job.id}", status_code=303)


@router.get("/sales-record-jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, session: Session, job_id: str, _user: SalesViewer) -> HTMLResponse:
    job = await session.get(SalesRecordJob, job_id)
    if job is None:
        raise NotFound("No such job.")
    return render(request, "intake_sales_job.html", job=job_json(job))


# -- CSV import of individuals ----------------------------------------------------------------------
def _csv_data_uri(header: list[str], rows: list[list[str]]) -> str:
    """A CSV the browser downloads from the page itself: the import keeps no file of its results."""
    return "data:text/csv;base64," + base64.b64encode(b"".join(csv_bytes(header, rows))).decode()


@router.get("/individuals/import/template.csv")
async def import_template_csv(request: Request, user: Editor) -> Response:
    return StreamingResponse(csv_bytes(template_columns(), []), media_type="text/csv",
                             headers=attachment("individuals-template.csv"))


@router.get("/individuals/import", response_class=HTMLResponse)
async def import_page(request: Request, imports: ImportJobs, _user: Editor) -> HTMLResponse:
    return render(request, "intake_individuals_import.html", columns=template_columns(), result=None,
                  **await _import_form_context(imports))


async def _import_form_context(imports: Any) -> dict[str, Any]:
    # a new key per form shown: a second click on the same form answers the job the first started
    return {"idempotency_key": str(uuid.uuid4()), "jobs": await imports.recent()}


@router.post("/individuals/import", response_class=HTMLResponse)
async def import_form(request: Request, runtime: Runtime, imports: ImportJobs, user: Editor,
                      file: Annotated[UploadFile, File()],
                      idempotency_key: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    if (job := await imports.for_key(idempotency_key)) is not None:
        return RedirectResponse(job["page"], status_code=303)
    ctx: dict[str, Any] = {"columns": template_columns(), "result": None, "file_name": file.filename,
                           **await _import_form_context(imports)}
    try:
        tmp = await save_upload(file, runtime.settings.max_upload_bytes)
    except TabularError as exc:
        return render(request, "intake_individuals_import.html", status_code=413, error=str(exc), **ctx)
    try:
        out = await imports.submit(tmp, file.filename or "individuals.csv", user.login, idempotency_key)
    except (TabularError, UseCaseError) as exc:
        return render(request, "intake_individuals_import.html", status_code=422, error=str(exc), **ctx)
    finally:
        with contextlib.suppress(FileNotFoundError):  # a background job took the file away
            os.unlink(tmp)
    if "job" in out:
        return RedirectResponse(out["job"]["page"], status_code=303)
    result = out["result"]
    shown = result["results"][:IMPORT_ROWS_SHOWN]
    invalid_uri = _csv_data_uri(*invalid_rows_csv(result, user.can("pii:reveal"))) if result["invalid"] else None
    await record_invalid_rows_export(runtime, user, header=result["header"], pii_indexes=result["pii_columns"],
                                     rows=len(result["invalid_rows"]), file=file.filename)
    return render(request, "intake_individuals_import.html", **(ctx | {
        "result": result, "rows": shown, "more": len(result["results"]) - len(shown), "invalid_uri": invalid_uri,
        "results_uri": _csv_data_uri(*results_csv(result))}))


async def _import_job(imports: Any, import_id: str) -> Any:
    """The background import for its pages (an unknown id: the 404 page)."""
    try:
        return await imports.get(import_id)
    except UseCaseError:
        raise NotFound("No such import.") from None


@router.get("/individuals/import/jobs/{import_id}", response_class=HTMLResponse)
async def import_job_page(request: Request, imports: ImportJobs, import_id: str, _user: Editor) -> Response:
    """A background import: its progress while it runs (the page refreshes itself), then the same
    result view as an import done at once, downloads served from the stored outcomes."""
    job = await _import_job(imports, import_id)
    ctx: dict[str, Any] = {"job": import_job_json(job), "file_name": job.file_name, "result": None}
    if job.status == "done":
        count, rows = await imports.results(job.id, 0, IMPORT_ROWS_SHOWN)
        base = f"/individuals/import/jobs/{job.id}"
        ctx |= {"result": ctx["job"], "rows": rows, "more": count - len(rows), "results_uri": f"{base}/results.csv",
                "invalid_uri": f"{base}/invalid.csv" if job.invalid else None}
    return render(request, "intake_individuals_import_job.html", **ctx)


@router.get("/individuals/import/jobs/{import_id}/results.csv")
async def import_job_results_csv(imports: ImportJobs, import_id: str, _user: Editor) -> Response:
    job = await _import_job(imports, import_id)
    return StreamingResponse(imports.results_csv(job), media_type="text/csv",
                             headers=attachment("import-results.csv"))


@router.get("/individuals/import/jobs/{import_id}/invalid.csv")
async def import_job_invalid_csv(runtime: Runtime, imports: ImportJobs, import_id: str, user: Editor) -> Response:
    """The invalid rows to fix and import again (PII masked unless the user may reveal it)."""
    job = await _import_job(imports, import_id)
    await record_invalid_rows_export(runtime, user, header=json.loads(job.header or "[]"),
                                     pii_indexes=json.loads(job.pii_columns or "[]"), rows=job.invalid or 0,
                                     import_id=job.id)
    return StreamingResponse(imports.errors_csv(job, user.can("pii:reveal")),
                             media_type="text/csv",
                             headers=attachment("invalid-individuals.csv"))


# -- an individual: its page, its form (create, edit) ---------------------------------------------------
CUSTOM_ROWS_ADDED = 2  # empty custom-field rows a form offers for new ones


def _typed(form: Any) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The form as typed (kept when it is refused): the standard fields, the custom-field rows."""
    values = {f: str(form.get(f, "")).strip() for f in STANDARD_FIELDS}
    rows, n = [], 0
    while f"cf_name_{n}" in form:
        rows.append({k: str(form.get(f"cf_{k}_{n}", "")).strip() for k in ("name", "type", "value")})
        n += 1
    return values, rows


def _individual_in(values: dict[str, str], rows: list[dict[str, str]], keep: Any = ()) -> IndividualIn:
    """The typed form as the use cases take it: a blank field is empty, except the ones the user saw
    masked (``keep``): those are left out, so the value kept is the stored one."""
    problems: dict[str, str] = {}
    if problem := name_problem(values.get("first_name"), values.get("last_name")):
        problems["first_name"] = f"Name: {problem}"
    custom = []
    for n, row in enumerate(rows):
        if not row["name"] and not row["value"]:
            continue  # an empty row
        if not row["name"]:
            problems[f"cf_{n}"] = f"Custom field {n + 1}: give it a name"
        custom.append({"name": row["name"], "type": row["type"] or "text", "value": row["value"] or None, "_row": n})
    data = {f: v for f, v in values.items() if v and f not in keep} | {
        f: None for f, v in values.items() if not v and f not in keep}
    try:
        parsed = IndividualIn.model_validate(data | {"custom_fields": [
            {k: v for k, v in c.items() if k != "_row"} for c in custom if c["name"]]})
    except ValidationError as exc:
        named = [c["_row"] for c in custom if c["name"]]
        for key, words in form_problems(exc, FIELD_LABELS).items():
            if key.startswith("cf_"):  # the n-th custom field given is the form's row it came from
                row = named[int(key[3:])]
                key, words = f"cf_{row}", words.replace(f"Custom field {int(key[3:]) + 1}", f"Custom field {row + 1}")
            problems.setdefault(key, words)
        raise FormRefused(problems) from None
    if problems:
        raise FormRefused(problems)
    return parsed


class FormRefused(Exception):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def _custom_rows(custom_fields: list[dict[str, Any]]) -> list[dict[str, str]]:
    shown = [{"name": c.get("name") or "", "type": c.get("type") or "text",
              "value": custom_input(c.get("type") or "text", c.get("value"))} for c in custom_fields]
    return shown + [{"name": "", "type": "text", "value": ""} for _ in range(CUSTOM_ROWS_ADDED)]


async def _form_page(request: Request, runtime: Any, user: User, *, ind: Individual | None,
                     values: dict[str, str] | None = None, rows: list[dict[str, str]] | None = None,
                     problems: dict[str, str] | None = None, status_code: int = 200,
                     version: str | None = None) -> HTMLResponse:
    reveal = user.can("pii:reveal")
    masked: dict[str, str] = {}
    if ind is not None:
        shown = individual_json(ind, require_cipher(runtime), reveal)
        if values is None:
            values = {f: "" if shown[f] is None else str(shown[f]) for f in STANDARD_FIELDS}
            if not reveal:  # the masked value is the input's hint; blank keeps the stored one
                masked = {f: values.pop(f) for f in PII_FIELDS if values.get(f)}
                values |= dict.fromkeys(PII_FIELDS, "")
            else:
                await record_reveals(runtime, user, [ind.id], shown_in="individual_form")
        elif not reveal:
            masked = {f: shown[f] for f in PII_FIELDS if shown[f]}
        rows = rows if rows is not None else _custom_rows(json.loads(ind.custom_fields))
    return render(request, "intake_individual_form.html", status_code=status_code, ind=ind,
                  values=values or dict.fromkeys(STANDARD_FIELDS, ""), masked=masked,
                  rows=rows if rows is not None else _custom_rows([]), problems=problems or {}, labels=FIELD_LABELS,
                  fields=STANDARD_FIELDS, pii=PII_FIELDS, dates=DATE_FIELDS, states=US_STATES,
                  custom_types=CUSTOM_FIELD_TYPES, vocabulary=SUGGESTIONS,
                  version=version or (ind.version if ind else None))


@router.get("/individuals/new", response_class=HTMLResponse)
async def new_individual_page(request: Request, runtime: Runtime, user: Editor) -> HTMLResponse:
    return await _form_page(request, runtime, user, ind=None)


@router.post("/individuals/new")
async def create_individual_form(request: Request, runtime: Runtime, user: Editor) -> Response:
    values, rows = _typed(await request.form())
    try:
        data = _individual_in(values, rows)
        async with runtime.uow(actor=user.login) as tx:
            ind = await create_individual(tx, data, require_cipher(runtime))
    except FormRefused as exc:
        return await _form_page(request, runtime, user, ind=None, values=values, rows=rows, problems=exc.problems,
                                status_code=422)
    return RedirectResponse(f"/individuals/{ind.id}?saved=created", status_code=303)


async def _individual(runtime: Any, individual_id: str) -> Individual:
    async with runtime.db.session() as session:
        ind = await session.get(Individual, individual_id)
    if ind is None:
        raise NotFound("No such individual.")
    return ind


@router.get("/individuals/{individual_id}/edit", response_class=HTMLResponse)
async def edit_individual_page(request: Request, runtime: Runtime, individual_id: str, user: Editor) -> HTMLResponse:
    return await _form_page(request, runtime, user, ind=await _individual(runtime, individual_id))


@router.post("/individuals/{individual_id}/edit")
async def edit_individual_form(request: Request, runtime: Runtime, individual_id: str, user: Editor) -> Response:
    ind = await _individual(runtime, individual_id)
    form = await request.form()
    values, rows = _typed(form)
    keep = () if user.can("pii:reveal") else tuple(PII_FIELDS)
    version = str(form.get("version", ""))
    try:
        data = _individual_in(values, rows, keep=keep)
        async with runtime.uow(actor=user.login) as tx:
            _, changed = await edit_individual(tx, individual_id, data, require_cipher(runtime), keep=keep,
                                               version=int(version) if version.isdigit() else None)
    except FormRefused as exc:
        return await _form_page(request, runtime, user, ind=ind, values=values, rows=rows, problems=exc.problems,
                                status_code=422, version=version)
    except UseCaseError as exc:  # saved by someone else meanwhile: the form keeps the version it was opened at
        return await _form_page(request, runtime, user, ind=ind, values=values, rows=rows,
                                problems={"": str(exc)}, status_code=exc.status_code, version=version)
    return RedirectResponse(f"/individuals/{individual_id}?saved={'changed' if changed else 'unchanged'}",
                            status_code=303)


def _audit_words(a: dict[str, Any]) -> str:
    """An audit entry's details as a person reads them (field names as the form labels them)."""
    d = a["details"]
    names = [FIELD_LABELS.get(f, "custom fields" if f == "custom_fields" else f) for f in d.get("fields", [])]
    if a["action"] in ("update", "sales_record_update"):
        return ("changed " + ", ".join(names)) if names else "no field changed"
    if a["action"] == "convert_to_individual":
        filled = [FIELD_LABELS.get(f, f) for f in d.get("filled", [])]
        return "filled from its sales record: " + (", ".join(filled) or "nothing")
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items())


@router.get("/individuals/{individual_id}", response_class=HTMLResponse)
async def individual_page(request: Request, runtime: Runtime, individual_id: str, user: Viewer,
                          policies_sort: str = "", policies_offset: Offset = 0, policies_limit: int = 20,
                          records_sort: str = "", records_offset: Offset = 0, records_limit: int = 20) -> HTMLResponse:
    """An individual: every field (PII masked unless the user may reveal it: each reveal recorded),
    custom values as a person reads them, its policies and sales records (a page at a time, sortable),
    its audit trail."""
    query = dict(request.query_params)
    query.pop("saved", None)
    async with runtime.db.session() as session:
        ind = await session.get(Individual, individual_id)
        if ind is None:
            raise NotFound("No such individual.")
        policies = await individual_policies(session, ind.client_id, INDIVIDUAL_POLICY_SORTING.valid(policies_sort),
                                             policies_offset, max(1, min(policies_limit, 200)))
        records = await individual_sales_records(session, ind.id, INDIVIDUAL_RECORD_SORTING.valid(records_sort),
                                                 records_offset, max(1, min(records_limit, 200)))
        audits = await audits_of(session, individual_id)
    await record_reveals(runtime, user, [ind.id])
    shown = individual_json(ind, require_cipher(runtime), user.can("pii:reveal"))
    custom = [c | {"shown": custom_display(c.get("type") or "text", c.get("value"))} for c in shown["custom_fields"]]
    for a in audits:
        a["words"] = _audit_words(a)
    return render(request, "intake_individual.html", ind=shown, custom=custom, labels=FIELD_LABELS,
                  fields=STANDARD_FIELDS, policies=part_of(policies, "policies_", query),
                  records=part_of(records, "records_", query), audits=audits,
                  can_see_records=user.can("sales_enablement:view"), can_see_policies=user.can("policies:view"),
                  can_edit=user.can("individuals:edit"), saved=request.query_params.get("saved"))


@router.get("/sales-records", response_class=HTMLResponse)
async def sales_records_page(request: Request, runtime: Runtime, user: SalesViewer, sales_record_type: str = "",
                             job_id: str = "", sort: str = "", limit: int = PAGE) -> HTMLResponse:
    """Sales records by type and job, sortable, a page at a time with the total (``offset``, or ``page``)."""
    params = dict(request.query_params)
    limit = max(1, min(limit, 200))
    page = max(_number(params.get("page"), 1), 1)
    offset = _number(params.get("offset"), 0) if "offset" in params else (page - 1) * limit
    filters = {k: v for k, v in (("sales_record_type", sales_record_type), ("job_id", job_id)) if v}
    async with runtime.db.session() as session:
        found = await sales_records(session, sales_record_type=sales_record_type or None, job_id=job_id or None,
                                    sort=SALES_RECORD_SORTING.valid(sort), offset=offset, limit=limit, query=filters)
        job = await session.get(SalesRecordJob, job_id) if job_id else None
    cipher, reveal = require_cipher(runtime), user.can("pii:reveal")
    await record_reveals(runtime, user, [r.individual_id for r in found.items], shown_in="sales_records")
    found.items = [sales_record_json(r, cipher, reveal) for r in found.items]
    return render(request, "intake_sales_records.html", page=found, items=found.items, total=found.total,
                  types=runtime.settings.sales_record_types, sales_record_type=sales_record_type, job_id=job_id,
                  job=job_json(job) if job else None)


async def _record_page(request: Request, runtime: Any, user: Any, record_id: str, message: str | None = None,
                       error: str | None = None, status_code: int = 200) -> HTMLResponse:
    async with runtime.db.session() as session:
        rec = await session.get(SalesRecord, record_id)
        if rec is None:
            raise NotFound("No such sales record.")
        ind = await session.get(Individual, rec.individual_id)
        audits = [a for a in await audits_of(session, rec.individual_id)
                  if a["action"] == "convert_to_individual" and a["details"].get("sales_record_id") == rec.id]
    for a in audits:  # field names as the operator knows them
        for k in ("filled", "conflicts_kept_individual"):
            a[k] = [FIELD_LABELS.get(f, f) for f in a["details"].get(k, [])]
        a["custom_added"] = a["details"].get("custom_fields_added", [])
    reveal = user.can("pii:reveal")
    await record_reveals(runtime, user, [rec.individual_id], shown_in="sales_records")
    return render(request, "intake_sales_record.html", status_code=status_code,
                  rec=sales_record_json(rec, require_cipher(runtime), reveal), labels=FIELD_LABELS, fields=CARRIED_FIELDS,
                  individual_name=", ".join(x for x in (ind.last_name, ind.first_name) if x) if ind else None,
                  audits=audits, can_convert=user.can("individuals:edit"), message=message, error=error,
                  can_edit=user.can("sales_enablement:edit"), saved=request.query_params.get("saved"),
                  shown_value=custom_display)


async def _record_form(request: Request, runtime: Any, user: User, record_id: str, *,
                       values: dict[str, str] | None = None, problems: dict[str, str] | None = None,
                       status_code: int = 200) -> HTMLResponse:
    async with runtime.db.session() as session:
        rec = await session.get(SalesRecord, record_id)
    if rec is None:
        raise NotFound("No such sales record.")
    reveal = user.can("pii:reveal")
    shown = sales_record_json(rec, require_cipher(runtime), reveal)
    masked = {} if reveal else {f: shown["fields"][f] for f in PII_FIELDS if shown["fields"].get(f)}
    if values is None:
        values = {f: "" if shown["fields"].get(f) is None else str(shown["fields"][f]) for f in CARRIED_FIELDS}
        values |= dict.fromkeys(masked, "")
        if reveal:
            await record_reveals(runtime, user, [rec.individual_id], shown_in="sales_record_form")
    return render(request, "intake_sales_record_form.html", status_code=status_code, rec=shown, values=values,
                  masked=masked, problems=problems or {}, labels=FIELD_LABELS, fields=CARRIED_FIELDS,
                  dates=DATE_FIELDS, states=US_STATES, vocabulary=SUGGESTIONS)


@router.get("/sales-records/{record_id}/edit", response_class=HTMLResponse)
async def edit_sales_record_page(request: Request, runtime: Runtime, record_id: str, user: SalesEditor) -> HTMLResponse:
    return await _record_form(request, runtime, user, record_id)


@router.post("/sales-records/{record_id}/edit")
async def edit_sales_record_form(request: Request, runtime: Runtime, record_id: str, user: SalesEditor) -> Response:
    form = await request.form()
    values = {f: str(form.get(f, "")).strip() for f in CARRIED_FIELDS}
    keep = () if user.can("pii:reveal") else tuple(PII_FIELDS)
    problems: dict[str, str] = {}
    if problem := name_problem(values.get("first_name"), values.get("last_name")):
        problems["first_name"] = f"Name: {problem}"
    try:
        data = IndividualIn.model_validate({f: v or None for f, v in values.items() if v or f not in keep})
    except ValidationError as exc:
        problems = form_problems(exc, FIELD_LABELS) | problems
    if problems:
        return await _record_form(request, runtime, user, record_id, values=values, problems=problems,
                                  status_code=422)
    async with runtime.uow(actor=user.login) as tx:
        _, changed = await edit_sales_record(tx, record_id, data, require_cipher(runtime), keep=keep)
    return RedirectResponse(f"/sales-records/{record_id}?saved={'changed' if changed else 'unchanged'}",
                            status_code=303)


@router.get("/sales-records/{record_id}", response_class=HTMLResponse)
async def sales_record_page(request: Request, runtime: Runtime, record_id: str, user: SalesViewer) -> HTMLResponse:
    return await _record_page(request, runtime, user, record_id)


@router.post("/sales-records/{record_id}/convert-to-individual")
async def convert_form(request: Request, runtime: Runtime, record_id: str, user: SalesRecordMaker) -> Response:
    try:
        async with runtime.uow(actor=user.login) as tx:
            await convert_to_individual(tx, record_id, require_cipher(runtime))
    except UseCaseError as exc:
        return await _record_page(request, runtime, user, record_id, error=str(exc), status_code=exc.status_code)
    return RedirectResponse(f"/sales-records/{record_id}?converted=1", status_code=303)
