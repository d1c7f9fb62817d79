"""What intake's use cases refuse with: the platform's one family (``agency_common.errors``), so the
common handler answers any refusal a route does not translate itself."""

from __future__ import annotations

from agency_common.errors import Conflict, NotFound, UseCaseError

__all__ = ["Conflict", "NotFound", "UseCaseError"]
