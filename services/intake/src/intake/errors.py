"""What intake's use cases refuse with; the routes map ``status_code`` to HTTP."""

from __future__ import annotations


class UseCaseError(ValueError):
    status_code = 422


class NotFound(UseCaseError):
    status_code = 404


class Conflict(UseCaseError):
    status_code = 409
