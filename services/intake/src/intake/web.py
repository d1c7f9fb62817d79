"""What intake's routers share: the long-lived objects ``app.py`` makes (the statement importer, the
background-job runners) as route dependencies, so no route reaches into ``request.app.state``.

Each capability names its own object's type next to its class (``statements.imports.Imports``,
``policy_sessions.jobs.Jobs`` ...): this floor module cannot import a capability."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Any
from urllib.parse import urlencode

from agency_common.auth import User
from agency_common.listing import Page
from agency_common.web.pages import dashboard_user
from fastapi import Depends, Request

# the attribute of app.state each object is kept under (set by app.py; tests and benches read them too)
STATEMENT_IMPORTS = "imports"
POLICY_JOBS = "policy_jobs"
SALES_RECORD_JOBS = "sales_jobs"
INDIVIDUAL_IMPORTS = "individual_imports"


def app_object(name: str) -> Any:
    """A dependency answering the object app.py keeps under ``name``; the route's annotation types it:
    ``imports: Annotated[StatementImports, app_object(STATEMENT_IMPORTS)]``."""

    def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"app_object_{name}"
    return Depends(dependency)


def landing_permissions(*permissions: str) -> Any:
    """A landing page's user: every signed-in user (no login goes to the login page); the page itself
    shows or sends on by which of ``permissions`` the user holds. The route audit reads them as the
    permissions of what the page shows."""

    def dependency(user: Annotated[User, Depends(dashboard_user)]) -> User:
        return user

    dependency.required_permissions = permissions  # type: ignore[attr-defined]  # read by the route audit
    return Depends(dependency)


@dataclass
class PartPage(Page):
    """One of several lists on one page (a policy's lines and postings): its links carry its own sort,
    offset and limit under ``prefix`` (``lines_sort``) and keep the other lists' (``query``)."""

    prefix: str = ""

    def url(self, **changes: Any) -> str:
        own = {"sort": self.sort, "offset": self.offset, "limit": self.limit, **changes}
        params = {**self.query, **{f"{self.prefix}{k}": v for k, v in own.items()}}
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})


def part_of(found: Page, prefix: str, query: dict[str, str]) -> PartPage:
    """``found`` as one list of a page; ``query`` the page's other parameters (its own are dropped)."""
    others = {k: v for k, v in query.items() if not k.startswith(prefix)}
    return PartPage(**{f.name: getattr(found, f.name) for f in fields(Page)} | {"query": others}, prefix=prefix)
