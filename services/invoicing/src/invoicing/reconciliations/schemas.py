"""Request models of opening a reconciliation and editing its header."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agency_common.validation import NonBlankStr
from pydantic import BaseModel, Field


class NewReconciliation(BaseModel):
    entity_type: str = Field(default="carrier", pattern="^carrier$")
    carrier: NonBlankStr = Field(min_length=1, max_length=200)
    subordinate_carrier: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    internal_note: str | None = Field(default=None, max_length=4000)
    statement_total: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)


class HeaderEdit(BaseModel):
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    internal_note: str | None = Field(default=None, max_length=4000)
    statement_total: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)
    version: int | None = None
