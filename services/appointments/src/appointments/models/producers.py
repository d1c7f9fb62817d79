"""Producers, their assignments and their licenses (from the PDB)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field

from appointments.models.base import AppointmentsModel, new_id, ts


class Producer(AppointmentsModel, table=True):
    __tablename__ = "producers"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    npn: str = Field(max_length=10, unique=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    ssn_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    agency_id: str | None = Field(default=None, foreign_key="agencies.id", max_length=36)
    phone: str | None = Field(default=None, max_length=30)
    business_address: str | None = Field(default=None, max_length=300)
    mailing_address: str | None = Field(default=None, max_length=300)
    agent_type: str | None = Field(default=None, max_length=50)
    sync_status: str = Field(default="pending", max_length=20)  # pending | synced | not_found
    active: bool = False  # the NPN is active at NIPR (known after the first sync)
    sync_requested_at: datetime | None = ts(nullable=True)
    synced_at: datetime | None = ts(nullable=True)
    import_id: str | None = Field(default=None, max_length=36)
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = ts()
    updated_by: str | None = Field(default=None, max_length=100)  # the last edit (its history: the audit trail)
    updated_at: datetime | None = ts(nullable=True)


class ProducerAssignment(AppointmentsModel, table=True):
    __tablename__ = "producer_assignments"
    __table_args__ = (UniqueConstraint("producer_id", "loa_category", "state", "cocode", name="uq_assignment"),)

    id: int | None = Field(default=None, primary_key=True)
    producer_id: str = Field(foreign_key="producers.id", index=True, max_length=36)
    loa_category: str = Field(max_length=100)
    state: str = Field(max_length=2)
    cocode: str = Field(default="", max_length=10)  # "" = any CoCode
    scorecard_type: str | None = Field(default=None, max_length=50)
    agent_type: str | None = Field(default=None, max_length=50)
    created_at: datetime = ts()


class License(AppointmentsModel, table=True):
    __tablename__ = "licenses"

    id: int | None = Field(default=None, primary_key=True)
    producer_id: str = Field(foreign_key="producers.id", index=True, max_length=36)
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    license_number: str = Field(max_length=50)
    license_class: str = Field(max_length=100)
    lines_of_authority: str = Field(max_length=1000)  # ';'-separated
    active: bool
    resident: bool
    effective_date: date | None = None
    expiration_date: date | None = None
    fetched_at: datetime = ts()
