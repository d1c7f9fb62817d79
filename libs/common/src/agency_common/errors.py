"""What a use case refuses with. One small family for every service: the web layer maps it to HTTP in
one exception handler (``agency_common.web.deps.install_error_handler``), so routes need no try/except.

``detail`` is what the JSON answer carries: the message, or a dict (``{"error": message, ...}``) when
the refusal has structure (the rows in error, the closest names).
"""

from __future__ import annotations

from typing import Any


class UseCaseError(ValueError):
    """A refusal in words the user can act on (422 unless a subclass says otherwise)."""

    status_code = 422

    def __init__(self, message: str = "", **detail: Any) -> None:
        super().__init__(message)
        self.detail: Any = {"error": message, **detail} if detail else message


class Invalid(UseCaseError):
    """422: the input breaks a rule; nothing was written."""


class NotFound(UseCaseError):
    """404: what the request names does not exist (or is not the caller's to see)."""

    status_code = 404


class Conflict(UseCaseError):
    """409: the state forbids it now (already done, a stale version, a stage that forbids it)."""

    status_code = 409


class Forbidden(UseCaseError):
    """403: the caller may not do this to this record (beyond the route's permission)."""

    status_code = 403
