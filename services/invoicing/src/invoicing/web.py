"""What invoicing's routers share: the permissions (API and pages), 200 or 202, and the page helpers
(a use case's refusal as flash words, form keys, redirects). Routes reach the runtime and a session
through ``agency_common.web.deps`` (``Runtime``, ``Session``); a use case's refusal reaches the one
handler (``agency_common.web.deps``), which answers it.

Forms carry an idempotency key made when the page was rendered, so a double click does the work
once. The statement-entry grid sends each row's values with the values it was rendered with: only
changed rows are saved (with the version they were read at), so two operators never overwrite each
other's rows silently."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from agency_common.auth import User, require
from agency_common.errors import UseCaseError
from agency_common.web import page_permission
from fastapi import Header
from fastapi.responses import RedirectResponse, Response

from invoicing import errors
from invoicing.domain.duplicates import OVERRIDE_PERMISSION

if TYPE_CHECKING:
    from agency_common.web import ServiceRuntime

Viewer = Annotated[User, require("reconciliations:view")]
Editor = Annotated[User, require("reconciliations:edit")]
Poster = Annotated[User, require("reconciliations:post")]
Payer = Annotated[User, require("reconciliations:pay")]
CreatePayer = Annotated[User, require("reconciliations:edit", "reconciliations:post", "reconciliations:pay")]
DuplicateOverrider = Annotated[User, require("reconciliations:edit", OVERRIDE_PERMISSION)]
# the same permissions for the dashboard pages (no login: the login page; without them: a 403 page)
PageViewer = Annotated[User, page_permission("reconciliations:view")]
PageEditor = Annotated[User, page_permission("reconciliations:edit")]
PagePoster = Annotated[User, page_permission("reconciliations:post")]
PagePayer = Annotated[User, page_permission("reconciliations:pay")]
PageCreatePayer = Annotated[User, page_permission("reconciliations:edit", "reconciliations:post", "reconciliations:pay")]
PageDuplicateOverrider = Annotated[User, page_permission("reconciliations:edit", OVERRIDE_PERMISSION)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]


def answered(response: Response, result: dict[str, Any]) -> dict[str, Any]:
    """200 with the result, or 202 with the background job that will produce it."""
    response.status_code = 202 if result.get("background") else 200
    return result


PAGE = 50


def back(url: str, **params: Any) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return RedirectResponse(url + (f"?{query}" if query else ""), status_code=303)


def plural(count: Any, noun: str) -> str:
    """ "1 invoice", "2 invoices": a flash message reads as a sentence."""
    return f"{count} {noun}{'' if str(count) == '1' else 's'}"


def form_key() -> str:
    return str(uuid.uuid4())


def duplicates_words(result: dict[str, Any]) -> str:
    n = result.get("duplicates_excluded") or 0
    return (f"; {plural(n, 'selected row')} excluded as already invoiced or paid in another reconciliation "
            f"(confirm {'it' if n == 1 else 'them'} on statement entry to invoice again)") if n else ""


async def page_action(runtime: ServiceRuntime, rec_id: str, user: User, fn: Any, *args: Any) -> dict[str, Any] | str:
    """A page's action: the use case's result, or its refusal in words for the page's flash message."""
    try:
        async with runtime.uow(actor=user.login) as tx:
            return await fn(tx, rec_id, *args)
    except errors.Invalid as exc:
        return describe(exc)
    except UseCaseError as exc:
        return str(exc)


def describe(exc: errors.Invalid) -> str:
    """The message and every field error (``field: reason``), so a redirect loses none of them."""
    def flatten(errors: Any, path: str = "") -> list[str]:
        if isinstance(errors, dict):
            return [line for k, v in errors.items() for line in flatten(v, f"{path}{k}" if not path else f"{path}.{k}")]
        return [f"{path}: {errors}"]

    details = flatten(exc.detail.get("errors", {}))
    return f"{exc}: " + "; ".join(details) if details else str(exc)
