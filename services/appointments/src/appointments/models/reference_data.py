"""Reference data: agencies, companies and CoCodes, and the effective-dated state settings, gateway
business rules, termination reasons, fees and filing rules (a change is a new row, the row in force
on a day is the latest one not after it); the service settings and the portals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from agency_common.db.types import Money
from sqlalchemy import Column
from sqlmodel import Field

from appointments.models.base import AppointmentsModel, new_id, ts


class Agency(AppointmentsModel, table=True):
    __tablename__ = "agencies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    npn: str = Field(max_length=10, unique=True)
    name: str = Field(max_length=200)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class Company(AppointmentsModel, table=True):
    __tablename__ = "companies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    fein: str | None = Field(default=None, max_length=9)
    loa_categories: str = Field(default="", max_length=500)  # ';'-separated LOA categories it appoints for
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class CompanyCocode(AppointmentsModel, table=True):
    __tablename__ = "company_cocodes"

    cocode: str = Field(primary_key=True, max_length=10)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=36)


class CompanyStateSetting(AppointmentsModel, table=True):
    __tablename__ = "company_state_settings"

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=36)
    state: str = Field(max_length=2)
    appoints: bool = True  # a row with False removes the setting from its effective date
    jit: bool = False
    company_license_id: str | None = Field(default=None, max_length=50)
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class BusinessRule(AppointmentsModel, table=True):
    """Gateway business rule: in a state, a line of authority belongs to an LOA category and is
    active (or not) for appointments."""

    __tablename__ = "gateway_business_rules"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    loa_category: str = Field(max_length=100)
    line_of_authority: str = Field(max_length=150)
    active: bool = True
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class TerminationReason(AppointmentsModel, table=True):
    __tablename__ = "termination_reasons"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    code: str = Field(max_length=50)
    description: str = Field(max_length=200)
    accepted: bool = True
    is_default: bool = False
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class StateFee(AppointmentsModel, table=True):
    __tablename__ = "state_fees"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    appointment_fee: Decimal = Field(sa_column=Column(Money(), nullable=False))
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class TerminationFilingRule(AppointmentsModel, table=True):
    """How a state takes for-cause terminations: electronically through the Gateway, or not (Texas:
    written to the department), in which case such a row becomes a manual task, not a transaction."""

    __tablename__ = "termination_filing_rules"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=2, index=True)
    for_cause_electronic: bool = True
    instructions: str | None = Field(default=None, max_length=500)
    effective_date: date
    source: str = Field(max_length=300)
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()


class ServiceSetting(AppointmentsModel, table=True):
    __tablename__ = "service_settings"

    name: str = Field(primary_key=True, max_length=100)
    value: str = Field(max_length=500)
    updated_by: str = Field(default="system", max_length=100)
    updated_at: datetime = ts()


class Portal(AppointmentsModel, table=True):
    __tablename__ = "portals"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    seats: int = 0
    recorded_by: str = Field(default="system", max_length=100)
    recorded_at: datetime = ts()
