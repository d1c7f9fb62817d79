"""The carrier registry's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from agency_common.db.types import UTCDateTime
from agency_common.timeutil import utcnow
from sqlalchemy import Column, Text
from sqlmodel import Field

from intake.models.base import IntakeModel


class Carrier(IntakeModel, table=True):
    """A carrier of the registry. Its canonical ``name`` is what policies, statements and profiles carry;
    ``key`` (the name without case and extra spaces) and the aliases' keys are how a typed name finds it."""

    __tablename__ = "carriers"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    version: int = 1
    name: str = Field(max_length=200, unique=True)
    key: str = Field(max_length=200, unique=True)
    naic_code: str | None = Field(default=None, max_length=5, unique=True)
    subordinates: str = Field(default="[]", sa_column=Column(Text(), nullable=False))  # JSON list of names
    addresses: str = Field(default="[]", sa_column=Column(Text(), nullable=False))  # JSON list of addresses
    active: bool = True
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CarrierAlias(IntakeModel, table=True):
    """Another spelling of a carrier's name (a feed's, an old file's); its key is unique across the
    registry, names and aliases alike, so a typed name finds at most one carrier."""

    __tablename__ = "carrier_aliases"

    key: str = Field(primary_key=True, max_length=200)
    alias: str = Field(max_length=200)
    carrier_id: str = Field(max_length=36, foreign_key="carriers.id", index=True)
