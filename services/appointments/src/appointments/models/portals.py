"""Portal users (invitations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from appointments.models.base import AppointmentsModel, new_id, ts


class PortalUser(AppointmentsModel, table=True):
    __tablename__ = "portal_users"
    __table_args__ = (UniqueConstraint("producer_id", "portal_id", name="uq_portal_user"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    producer_id: str = Field(foreign_key="producers.id", index=True, max_length=36)
    portal_id: str = Field(foreign_key="portals.id", index=True, max_length=36)
    email: str = Field(max_length=254)
    invites_sent: int = 1
    invited_by: str = Field(max_length=100)
    invited_at: datetime = ts()
