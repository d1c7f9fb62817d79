"""What intake's routers share: the long-lived objects ``app.py`` makes (the statement importer, the
background-job runners) as route dependencies, so no route reaches into ``request.app.state``.

Each capability names its own object's type next to its class (``statements.imports.Imports``,
``policy_sessions.jobs.Jobs`` ...): this floor module cannot import a capability."""

from __future__ import annotations

from typing import Any

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
