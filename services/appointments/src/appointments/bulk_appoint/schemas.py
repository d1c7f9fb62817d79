"""What bulk appoint takes: requests (``BulkRequest``, the guarded creator's input) in one call."""

from __future__ import annotations

from pydantic import BaseModel, Field

from appointments.transactions.schemas import BulkRequest

__all__ = ["BulkAppoint", "BulkRequest"]


class BulkAppoint(BaseModel):
    requests: list[BulkRequest] = Field(min_length=1, max_length=50_000)
