"""Reference data's JSON: a load, and the listing of each kind (``refdata.listing``), one row shape per
kind as stored (timestamps, dates and money as text); a dated kind's row says whether it is in force
today and whether it starts later."""

from __future__ import annotations

from appointments.responses import Out


class RowsLoaded(Out):
    kind: str
    rows_loaded: int


class AgencyRow(Out):
    id: str
    npn: str
    name: str
    recorded_by: str
    recorded_at: str


class CompanyRow(Out):
    id: str
    name: str
    fein: str | None
    loa_categories: str
    recorded_by: str
    recorded_at: str
    cocodes: str  # ';'-separated


class DatedRow(Out):
    id: int
    effective_date: str
    source: str
    recorded_by: str
    recorded_at: str
    in_force: bool
    future: bool


class CompanyStateSettingRow(DatedRow):
    company_id: str
    state: str
    appoints: bool
    jit: bool
    company_license_id: str | None
    company: str  # the company's name


class BusinessRuleRow(DatedRow):
    state: str
    loa_category: str
    line_of_authority: str
    active: bool


class TerminationReasonRow(DatedRow):
    state: str
    code: str
    description: str
    accepted: bool
    is_default: bool


class StateFeeRow(DatedRow):
    state: str
    appointment_fee: str


class TerminationFilingRow(DatedRow):
    state: str
    for_cause_electronic: bool
    instructions: str | None


class SettingRow(Out):
    name: str
    value: str
    updated_by: str
    updated_at: str


class PortalRow(Out):
    id: str
    name: str
    seats: int
    recorded_by: str
    recorded_at: str


# ``GET /api/reference-data/{kind}``: the rows of one kind
Listing = (list[AgencyRow] | list[CompanyRow] | list[CompanyStateSettingRow] | list[BusinessRuleRow]
           | list[TerminationReasonRow] | list[StateFeeRow] | list[TerminationFilingRow] | list[SettingRow]
           | list[PortalRow])
