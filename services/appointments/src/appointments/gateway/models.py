"""The gateway's own tables: every submission it made, by idempotency key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agency_common.db.types import UTCDateTime
from agency_common.outbox import messaging_tables


class GatewayModel(SQLModel, registry=registry()):
    pass


metadata = GatewayModel.metadata
messaging = messaging_tables(metadata)


class Submission(GatewayModel, table=True):
    __tablename__ = "submissions"

    idempotency_key: str = Field(primary_key=True, max_length=64)
    transaction_id: str = Field(max_length=36, index=True)
    batch_id: str = Field(max_length=36, index=True)
    state: str = Field(max_length=2)
    outcome: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    nipr_reference: str | None = Field(default=None, max_length=100)
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
