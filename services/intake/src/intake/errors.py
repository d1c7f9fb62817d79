"""What intake's use cases refuse with: the platform's one family (``agency_common.errors``), answered by
the common handler (JSON ``{"detail": ...}`` for the API, a page in words for the dashboard)."""

from __future__ import annotations

from agency_common.errors import Conflict, Forbidden, Invalid, NotFound, UseCaseError

__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "UseCaseError"]
