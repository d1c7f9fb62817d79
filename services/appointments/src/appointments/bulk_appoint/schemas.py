"""What bulk appoint takes: requests (``BulkRequest``, the guarded creator's input) in one call; and
what it answers, key for key as ``transactions.appoint``, ``files.bulk_appoint_file`` and the jobs
(``jobs.job_view``, ``jobs.get_job``) write it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from appointments.responses import Out
from appointments.transactions.schemas import BulkRequest

__all__ = ["BulkAppoint", "BulkRequest"]


class BulkAppoint(BaseModel):
    requests: list[BulkRequest] = Field(min_length=1, max_length=50_000)


class Match(Out):
    """A transaction on record a request is identical to (or a held one it released)."""

    id: str
    status: str
    batch_id: str | None
    eligibility_reason: str | None


class Refusal(Out):
    state: str | None
    cocode: str | None
    line_of_authority: str | None
    reason: str
    matches: list[Match]


class CreatedTransaction(Out):
    id: str
    state: str
    line_of_authority: str
    loa_category: str | None
    cocode: str
    status: str
    eligibility_reason: str | None
    batch_id: str
    billable: bool
    jit: bool
    fee: str | None  # money as text
    license_number: str | None


class RequestResult(Out):
    """One request's outcome; ``line`` is the file's line (files only)."""

    npn: str
    rejected: bool
    rejection_reason: str | None
    identical: bool
    refused: list[Refusal]
    released: list[Match]
    transactions: list[CreatedTransaction]
    line: int | None = None


class PendingRequest(Out):
    """A background job's request whose chunk is not done yet."""

    npn: str | None
    pending: bool
    line: int | None = None


class CocodeBatch(Out):
    cocode: str
    batch_id: str


class RowError(Out):
    line: int
    errors: list[str]


class Appointed(Out):
    """Answered now (200): every request's result and the batches (one per CoCode); a file adds its
    refused rows and blank rows; an Idempotency-Key repeated answers the first call, ``replayed``."""

    results: list[RequestResult]
    batches: list[CocodeBatch]
    transactions: int
    released: int | None = None  # absent when a file had no valid request
    row_errors: list[RowError] | None = None
    blank_rows: int | None = None
    replayed: bool | None = None


class JobOut(Out):
    """A background bulk appoint (``jobs.job_view``): timestamps as stored (text)."""

    id: str
    status: str
    source: str
    total: int
    processed: int
    rejected: int
    transactions: int
    chunk_size: int
    row_errors: list[RowError]
    blank_rows: int
    error: str | None
    created_by: str
    created_at: str
    started_at: str | None = None  # absent in the answer that starts the job
    finished_at: str | None = None
    batches: list[CocodeBatch]
    url: str
    page: str


class JobStarted(Out):
    """Above the background threshold (202): the job, to follow at its ``url``."""

    background: bool
    job: JobOut
    replayed: bool | None = None


class ResultsPage(Out):
    offset: int
    limit: int
    items: list[RequestResult | PendingRequest]
    next_offset: int | None


class JobDetail(JobOut):
    """A job with one page of its per-request results."""

    results: ResultsPage


BulkAnswer = Appointed | JobStarted
