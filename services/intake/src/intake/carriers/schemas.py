"""What the carrier registry's API answers (``registry.carrier_json``, key for key)."""

from __future__ import annotations

from intake.responses import Out


class CarrierOut(Out):
    id: str
    version: int
    name: str
    naic_code: str | None
    aliases: list[str]
    subordinates: list[str]
    addresses: list[str]
    active: bool
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str


class CarrierPage(Out):
    total: int
    limit: int
    offset: int
    items: list[CarrierOut]
