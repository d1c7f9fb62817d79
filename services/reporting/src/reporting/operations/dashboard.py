"""The operations pages: each view's sections as tables with inline SVG charts and CSV buttons."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any

from agency_common.auth import User
from agency_common.web import page_permission, render
from agency_common.web.deps import Session
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from reporting.operations.queries import VIEWS

router = APIRouter(include_in_schema=False)

CODE = re.compile(r"[a-z]+(?:_[a-z]+)+")
OPERATIONS_NAV = [(v.title, f"/operations/{v.key}") for v in VIEWS.values()]


@router.get("/operations/{view}", response_class=HTMLResponse)
async def operations_page(request: Request, view: str, session: Session,
                          _user: Annotated[User, page_permission("operations:view")]) -> HTMLResponse:
    spec = VIEWS.get(view)
    if spec is None:
        raise HTTPException(404, "no such view")
    sections = await spec.build(session)
    shown = [replace(s, rows=[[_words(c) for c in row] for row in s.rows]) for s in sections]
    return render(request, "operations.html", view=spec, sections=shown)


def _words(value: Any) -> Any:
    """A stored code (``term_policy``) as words on screen; the CSV export keeps the code."""
    return value.replace("_", " ") if isinstance(value, str) and CODE.fullmatch(value) else value
