"""What appointments' use cases refuse with: the platform's one family (``agency_common.errors``),
answered by the one handler (JSON ``{"detail": ...}`` for the API, a page in words for the dashboard),
so routes need no translation of their own."""

from __future__ import annotations

from agency_common.errors import Conflict, Invalid, NotFound, UseCaseError

__all__ = ["BatchStateError", "Conflict", "Invalid", "NotFound", "UseCaseError"]


class BatchStateError(Conflict):
    """409: the batch or file is in a state that forbids it (nothing ready to submit, already submitted)."""
