"""The appointments report's JSON (``report.page``)."""

from __future__ import annotations

from appointments.responses import Out


class ReportItem(Out):
    related_producer: str
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    status: str
    appointed_at: str | None
    terminated_at: str | None


class ReportPage(Out):
    total: int
    offset: int
    limit: int
    items: list[ReportItem]
