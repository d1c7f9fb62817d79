"""appointments' tables share one metadata (their own registry), so Alembic sees them together."""

from __future__ import annotations

import uuid
from typing import Any

from agency_common.db.types import UTCDateTime
from agency_common.outbox import messaging_tables
from agency_common.timeutil import utcnow
from sqlalchemy import Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class AppointmentsModel(SQLModel, registry=registry()):
    pass


metadata = AppointmentsModel.metadata


messaging = messaging_tables(metadata, leases=True)


def new_id() -> str:
    return str(uuid.uuid4())


def ts(nullable: bool = False) -> Any:
    return Field(default_factory=utcnow if not nullable else None,
                 sa_column=Column(UTCDateTime(), nullable=nullable))
