"""The refusals invoicing's use cases raise: members of the common family (``agency_common.errors``),
so the one handler answers them (404, 409, 422 with ``{"detail": ...}``) and routes need no try/except.
They keep invoicing's answers as they always were: a conflict's detail is always an object
(``{"error": message, ...}``), an invalid request's always has its ``errors`` by row and field."""

from __future__ import annotations

from typing import Any

from agency_common import errors as common


class NotFound(common.NotFound):
    """404: the answer's detail is the message."""


class Conflict(common.Conflict):
    """409: the state changed under the caller (a stale version, or a stage that forbids it)."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.detail = {"error": message, **detail}


class Invalid(common.Invalid):
    """422: every problem, by row and field; nothing was written."""

    def __init__(self, message: str, errors: dict[str, Any]) -> None:
        super().__init__(message, errors=errors)
        self.detail = {"error": message, "errors": errors}
