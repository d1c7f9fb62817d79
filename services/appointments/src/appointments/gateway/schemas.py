"""The gateway's JSON: its submissions as stored (timestamps as text) and a retry's count. Its own
base, as the gateway shares nothing with the service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A key the model does not name is refused (a builder and its model cannot drift apart)."""

    model_config = ConfigDict(extra="forbid")


class SubmissionOut(Out):
    idempotency_key: str
    transaction_id: str
    batch_id: str
    state: str
    kind: str
    npn: str | None
    line_of_authority: str | None
    cocode: str | None
    termination_reason_code: str | None
    for_cause: bool
    status: str  # pending | submitting | answered | failed
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    received_at: str | None
    outcome: str | None
    reason: str | None
    nipr_reference: str | None
    submitted_at: str | None
    answered_at: str | None
    claimed_by: str | None


class SubmissionPage(Out):
    """One page of submissions (``GET /api/submissions``) and how many there are in all."""

    total: int
    offset: int
    limit: int
    sort: str
    items: list[SubmissionOut]


class Retried(Out):
    retried: int
