"""Batches' JSON for closing transactions (``usecases.close_transactions``, ``close_not_eligible``)."""

from __future__ import annotations

from appointments.responses import Out


class ClosedNotEligible(Out):
    batch_id: str
    closed: int


class NotClosed(Out):
    id: str
    status: str | None
    reason: str


class ClosedTransactions(Out):
    closed: list[str]
    refused: list[NotClosed]
