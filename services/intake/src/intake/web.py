"""What intake's routers share: a use-case error as an HTTP error, and the page a user without the
permission sees."""

from __future__ import annotations

from agency_common.web import render
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from intake.errors import UseCaseError


def fail(exc: UseCaseError) -> HTTPException:
    return HTTPException(exc.status_code, str(exc))


def denied(request: Request, permission: str) -> HTMLResponse:
    return render(request, "intake_message.html", status_code=403,
                  message=f"You do not have the {permission} permission.")
