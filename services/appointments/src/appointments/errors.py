"""What appointments' use cases refuse with (the routers map them to HTTP)."""

from __future__ import annotations


class BatchStateError(ValueError):
    pass
