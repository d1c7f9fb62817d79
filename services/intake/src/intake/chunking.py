"""The bulk-write chunk size shared by intake's capabilities (the helper that cuts is the platform's)."""

from __future__ import annotations

from agency_common.batching import chunks

CHUNK = 1000

__all__ = ["CHUNK", "chunks"]
