"""reporting's tables (its own metadata)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import PrimaryKeyConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agency_common.outbox import messaging_tables


class ReportingModel(SQLModel, registry=registry()):
    pass


metadata = ReportingModel.metadata
messaging = messaging_tables(metadata)


class EventCount(ReportingModel, table=True):
    """Events seen per topic, type and day: the base of the operations views."""

    __tablename__ = "event_counts"
    __table_args__ = (PrimaryKeyConstraint("topic", "event_type", "day", name="pk_event_counts"),)

    topic: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    day: date
    count: int = 0


class DeadLetterCount(ReportingModel, table=True):
    """Messages dead-lettered per original topic (read from every ``.dlt`` topic)."""

    __tablename__ = "dead_letter_counts"

    topic: str = Field(primary_key=True, max_length=200)
    count: int = 0
