"""The response model of a report as JSON (``remittance.to_json``): money as text, counts as numbers."""

from __future__ import annotations

from invoicing.responses import Out

Cell = str | int | float | None


class ReportSection(Out):
    title: str
    columns: list[str]
    rows: list[list[Cell]]


class ReportOut(Out):
    kind: str
    title: str
    header: dict[str, Cell]
    columns: list[str]
    rows: list[list[Cell]]
    sections: list[ReportSection]
