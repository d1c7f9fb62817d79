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


class BatchRow(Out):
    """A batch as stored (``GET /api/transaction-batches``)."""

    id: str
    cocode: str
    kind: str
    status: str
    source: str | None
    created_by: str
    created_at: str
    submitted_by: str | None
    submitted_at: str | None
    completed_at: str | None
    closed_reason: str | None
    import_id: str | None


class BatchPage(Out):
    """One page of batches (``GET /api/transaction-batches``) and how many there are in all."""

    total: int
    offset: int
    limit: int
    sort: str
    items: list[BatchRow]


class TransactionOut(Out):
    """A transaction as stored, without its idempotency key (money as text)."""

    id: str
    batch_id: str
    kind: str
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    status: str
    nipr_reason: str | None
    nipr_reference: str | None
    updated_at: str
    loa_category: str | None
    eligibility_reason: str | None
    billable: bool
    jit: bool
    fee: str | None
    license_number: str | None
    identity_key: str | None
    termination_reason_code: str | None
    created_by: str | None
    created_at: str | None
    submitted_at: str | None
    answered_at: str | None
    for_cause: bool
    closed_by: str | None
    closed_at: str | None
    close_reason: str | None


class BatchOut(BatchRow):
    """A batch with its summary (``usecases.batch_summary``) and its transactions (``queries.batch_view``)."""

    counts: dict[str, int]
    billable: int
    non_billable: int
    fee_estimate: str
    fee_ready_to_submit: str
    fee_jit_held: str
    transactions: list[TransactionOut]


class RowCited(Out):
    """A reference-data row an explanation cites: its table and id, effective date, source, what it says."""

    table: str
    id: int | str | None
    effective_date: str | None
    source: str | None
    says: str


class LicenseCited(Out):
    """A producer's license as it stood when the transaction was judged."""

    state: str
    license_number: str
    license_class: str
    resident: bool
    active: bool
    expiration_date: str | None
    in_force: bool
    holds_line: bool
    lines_of_authority: list[str]
    fetched_at: str | None


class Explanation(Out):
    """Why a transaction is Not Eligible (``domain.requests.Why``): the check that decided it in words and
    the facts it read, as they were on ``as_of``."""

    reason: str
    rule: str
    as_of: str
    state: str
    cocode: str
    line_of_authority: str
    loa_category: str | None
    company: str | None
    company_categories: list[str]
    state_setting: RowCited | None
    business_rule: RowCited | None
    licenses: list[LicenseCited]
    matches: list[str]  # the transactions on record it is identical to


class TransactionDetail(TransactionOut):
    """One transaction (``GET /api/transactions/{id}``) with what decided it: ``explanation`` for a Not
    Eligible one (null when it was recorded before explanations were kept)."""

    explanation: Explanation | None


class TransactionPage(Out):
    """One page of transactions (``GET /api/transactions``), the filter's, and how many match in all."""

    total: int
    offset: int
    limit: int
    sort: str
    items: list[TransactionOut]


class ClosedMatching(Out):
    """``usecases.close_matching``: how many matched the filter, how many closed, and why the rest did not."""

    matched: int
    closed: int
    refused: list[NotClosed]
