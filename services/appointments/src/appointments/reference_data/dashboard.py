"""The reference data page: list, add rows, load a file."""

from __future__ import annotations

from typing import Annotated

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Runtime, Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from appointments.errors import NotFound
from appointments.reference_data import refdata

router = APIRouter(include_in_schema=False)


@router.get("/reference", response_class=HTMLResponse)
async def reference_page(request: Request, session: Session, user: Annotated[User, page_permission("reference_data:view")],
                         kind: str = "business_rules", error: str | None = None,
                         loaded: int | None = None) -> HTMLResponse:
    if kind not in refdata.KINDS:
        kind = "business_rules"
    rows = await refdata.listing(session, kind)
    return render(request, "reference.html", kinds=refdata.KINDS, kind=refdata.KINDS[kind], rows=rows,
                  error=error, loaded=loaded, can_edit=user.can("reference_data:edit"))


@router.post("/reference/{kind}", response_class=HTMLResponse)
async def reference_add(request: Request, runtime: Runtime, session: Session, kind: str,
                        user: Annotated[User, page_permission("reference_data:edit")]) -> HTMLResponse:
    if kind not in refdata.KINDS:
        raise NotFound("unknown kind")
    form = await request.form()
    upload = form.get("file")
    try:
        async with runtime.uow(actor=user.login) as tx:
            if upload is not None and getattr(upload, "filename", ""):
                rows: list[dict[str, str]] | refdata.RefDataFile = refdata.parse_file(
                    kind, await upload.read(), upload.filename)  # type: ignore[union-attr]
                source = f"upload {upload.filename} by {user.login}"  # type: ignore[union-attr]
            else:
                rows = [{c: str(form.get(c, "")).strip() for c in refdata.KINDS[kind].columns}]
                source = f"dashboard entry by {user.login}"
            n = await refdata.load_rows(tx, kind, rows, source_default=source)
    except refdata.RefDataError as exc:  # every problem shown on the page
        return await reference_page(request, session, user, kind, error="; ".join(exc.errors))
    return await reference_page(request, session, user, kind, loaded=n)
