"""invoicing's one metadata, the base model and column helpers shared by every table module."""

from __future__ import annotations

from agency_common.db.types import Money, Rate, UTCDateTime
from agency_common.outbox import messaging_tables
from sqlalchemy import BigInteger, Column, Integer
from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class InvoicingModel(SQLModel, registry=registry()):
    pass


metadata = InvoicingModel.metadata
messaging = messaging_tables(metadata, leases=True)


def _bigid() -> Column:  # type: ignore[type-arg]
    return Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


def _money(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(Money(), nullable=nullable)


def _rate() -> Column:  # type: ignore[type-arg]
    return Column(Rate(), nullable=True)


def _ts(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)
