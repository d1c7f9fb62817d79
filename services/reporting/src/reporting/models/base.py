"""reporting's own metadata (its Alembic sees only these tables) and its messaging tables."""

from __future__ import annotations

from agency_common.outbox import messaging_tables
from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class ReportingModel(SQLModel, registry=registry()):
    pass


metadata = ReportingModel.metadata
messaging = messaging_tables(metadata)
