"""A reconciliation and the answers of its idempotent requests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Integer, Text
from sqlmodel import Field

from invoicing.models.base import InvoicingModel, _money, _ts


class Reconciliation(InvoicingModel, table=True):
    """A direct-bill reconciliation against a carrier (seed 003): its header and stage."""

    __tablename__ = "reconciliation"

    id: str = Field(primary_key=True, max_length=36)
    # "reconciliation N" in words an operator reads (the next number when it is opened)
    number: int | None = Field(default=None, sa_column=Column(Integer, nullable=True, index=True, unique=True))
    entity_type: str = Field(default="carrier", max_length=20)
    carrier: str = Field(max_length=200, index=True)
    subordinate_carrier: str | None = Field(default=None, max_length=200)
    name: str = Field(max_length=300)
    address: str | None = Field(default=None, max_length=500)
    date_booked: date
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    internal_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    statement_id: str | None = Field(default=None, max_length=36, unique=True)
    statement_date: date | None = None
    statement_file: str | None = Field(default=None, max_length=300)
    statement_line_count: int | None = None
    statement_chunk_count: int | None = None
    # The carrier's statement total (commission); None: the selected rows' commission paid.
    statement_total: Decimal | None = Field(default=None, sa_column=_money())
    received_total: Decimal = Field(default=Decimal("0.00"), sa_column=_money(False))
    status: str = Field(default="open", max_length=20, index=True)
    version: int = 1
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
    updated_at: datetime = Field(sa_column=_ts(False))
    updated_by: str = Field(max_length=100)
    closed_at: datetime | None = Field(default=None, sa_column=_ts())
    closed_by: str | None = Field(default=None, max_length=100)
    aborted_at: datetime | None = Field(default=None, sa_column=_ts())
    aborted_by: str | None = Field(default=None, max_length=100)
    aborted_stage: str | None = Field(default=None, max_length=20)


class IdempotentRequest(InvoicingModel, table=True):
    """A mutating request already answered: a repeated click gets the same answer, nothing twice."""

    __tablename__ = "idempotent_request"

    key: str = Field(primary_key=True, max_length=100)
    reconciliation_id: str = Field(max_length=36)
    operation: str = Field(max_length=40)
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts(False))
    created_by: str = Field(max_length=100)
