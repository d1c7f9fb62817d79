"""The carrier registry's pages: the list, register a carrier, edit one."""

from __future__ import annotations

from typing import Annotated, Any

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Runtime
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from intake.carriers.registry import (
    CarrierEdit,
    CarrierIn,
    carrier_json,
    get_carrier,
    list_carriers,
    register_carrier,
    update_carrier,
)
from intake.errors import UseCaseError

router = APIRouter(include_in_schema=False)
PAGE = 50
Viewer = Annotated[User, page_permission("carriers:view")]
Editor = Annotated[User, page_permission("carriers:edit")]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _addresses(text: str) -> list[str]:
    """Addresses are separated by a blank line; an address's own lines stay together."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return ["\n".join(line.strip() for line in b.splitlines() if line.strip()) for b in blocks if b]


def _form_values(form: dict[str, str]) -> dict[str, Any]:
    return {"naic_code": form.get("naic_code", "").strip() or None, "aliases": _lines(form.get("aliases", "")),
            "subordinates": _lines(form.get("subordinates", "")), "addresses": _addresses(form.get("addresses", ""))}


@router.get("/carriers", response_class=HTMLResponse)
async def carriers_page(request: Request, runtime: Runtime, user: Viewer, q: str = "",
                        page: Annotated[int, Query(ge=1)] = 1, error: str | None = None,
                        values: dict[str, str] | None = None) -> HTMLResponse:
    async with runtime.db.session() as s:
        total, items = await list_carriers(s, q=q, limit=PAGE, offset=(page - 1) * PAGE)
    return render(request, "intake_carriers.html", carriers=items, total=total, q=q, page=page,
                  pages=max(1, -(-total // PAGE)), error=error, values=values or {},
                  can_edit=user.can("carriers:edit"), status_code=422 if error else 200)


@router.post("/carriers")
async def register_form(request: Request, runtime: Runtime, user: Editor) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        data = CarrierIn(name=form.get("name", ""), **_form_values(form))
        async with runtime.uow(actor=user.login) as tx:
            carrier = await register_carrier(tx, data)
    except ValidationError as exc:
        return await carriers_page(request, runtime, user, error=_words(exc), values=form)
    except UseCaseError as exc:
        return await carriers_page(request, runtime, user, error=str(exc), values=form)
    return RedirectResponse(f"/carriers/{carrier['id']}?registered=1", status_code=303)


@router.get("/carriers/{carrier_id}", response_class=HTMLResponse)
async def carrier_page(request: Request, runtime: Runtime, carrier_id: str, user: Viewer,
                       registered: bool = False, saved: bool = False, error: str | None = None,
                       values: dict[str, str] | None = None) -> HTMLResponse:
    async with runtime.db.session() as s:
        carrier, aliases = await get_carrier(s, carrier_id)  # an unknown id: the 404 page
    c = carrier_json(carrier, aliases)
    shown = values or {"naic_code": c["naic_code"] or "", "aliases": "\n".join(c["aliases"]),
                       "subordinates": "\n".join(c["subordinates"]), "addresses": "\n\n".join(c["addresses"])}
    message = "Carrier registered." if registered else "Carrier saved." if saved else None
    return render(request, "intake_carrier.html", c=c, values=shown, error=error, message=message,
                  can_edit=user.can("carriers:edit"), status_code=422 if error else 200)


@router.post("/carriers/{carrier_id}")
async def edit_form(request: Request, runtime: Runtime, carrier_id: str, user: Editor) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        edit = CarrierEdit(**_form_values(form), active=form.get("active") == "on",
                           version=int(form["version"]) if form.get("version", "").isdigit() else None)
        async with runtime.uow(actor=user.login) as tx:
            await update_carrier(tx, carrier_id, edit)
    except ValidationError as exc:
        return await carrier_page(request, runtime, carrier_id, user, error=_words(exc), values=form)
    except UseCaseError as exc:
        return await carrier_page(request, runtime, carrier_id, user, error=str(exc), values=form)
    return RedirectResponse(f"/carriers/{carrier_id}?saved=1", status_code=303)


def _words(exc: ValidationError) -> str:
    labels = {"name": "Name", "naic_code": "NAIC company code", "aliases": "Aliases", "subordinates": "Subordinates",
              "addresses": "Addresses"}
    return "; ".join(f"{labels.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'Form'}: {e['msg'].lower()}"
                     for e in exc.errors())
