"""The base of intake's tables: its own metadata (a SQLModel registry of its own), so its
migrations see nothing of another service."""

from __future__ import annotations

import uuid

from agency_common.outbox import messaging_tables
from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class IntakeModel(SQLModel, registry=registry()):
    pass


metadata = IntakeModel.metadata
messaging = messaging_tables(metadata, leases=True)


def new_id() -> str:
    return str(uuid.uuid4())
