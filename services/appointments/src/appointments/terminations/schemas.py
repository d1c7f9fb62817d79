"""Terminations' JSON: a termination file read (its rows), submitted (``transactions.terminate``'s result, with the import)."""

from __future__ import annotations

from appointments.producers.schemas import ImportOut, ImportRow
from appointments.responses import Out


class TerminationBatch(Out):
    batch_id: str
    cocode: str
    transactions: int
    status: str


class ManualTaskMade(Out):
    id: str
    npn: str
    state: str
    cocode: str
    line_of_authority: str
    instructions: str


class Match(Out):
    id: str
    status: str
    batch_id: str | None


class Refused(Out):
    line: int | None
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    reason: str
    matches: list[Match]


class TerminationsSubmitted(Out):
    import_id: str
    immediate: bool
    transactions: int
    batches: list[TerminationBatch]
    manual_tasks: list[ManualTaskMade]
    refused: list[Refused]


class ManualTaskOut(Out):
    """A manual task as stored (``GET /api/manual-tasks``, ``POST /api/manual-tasks/{id}/done``)."""

    id: str
    kind: str
    status: str
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    termination_reason_code: str | None
    instructions: str
    import_id: str | None
    line: int | None
    created_by: str
    created_at: str
    done_by: str | None
    done_at: str | None
    note: str | None


class TerminationImportRow(ImportRow):
    """A termination file's row, with what submitting it makes: transactions, manual tasks (their instructions)."""

    transactions: int
    manual_tasks: int
    manual: list[str]


class TerminationImportOut(ImportOut):
    rows: list[TerminationImportRow]


class TerminationImportRowPage(Out):
    """One page of a termination file's rows by line (``GET /api/termination-imports/{id}/rows``) and how many in all."""

    total: int
    offset: int
    limit: int
    sort: str
    items: list[TerminationImportRow]
