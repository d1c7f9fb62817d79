"""The errors use cases raise and routes translate (404, 409, 422)."""

from __future__ import annotations

from typing import Any


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """409: the state changed under the caller (a stale version, or a stage that forbids it)."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = {"error": message, **detail}


class Invalid(Exception):
    """422: every problem, by row and field; nothing was written."""

    def __init__(self, message: str, errors: dict[str, Any]) -> None:
        super().__init__(message)
        self.detail = {"error": message, "errors": errors}
