"""What Create Policies takes and answers: the request (defaults, per-line overrides), a session."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from intake.models import (
    PolicySession,
)
from intake.responses import Out


class PolicyDefaults(BaseModel):
    line_of_business: str | None = Field(default=None, max_length=100)  # the policy type
    business_type: str | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=50)
    # for lines without a transaction code (a code's own status wins); none given: active
    status: str | None = Field(default=None, max_length=50)
    branch: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=100)
    servicing_agent: str | None = Field(default=None, max_length=100)


class LineOverride(PolicyDefaults):
    status: str | None = Field(default=None, max_length=50)
    client_name: str | None = Field(default=None, max_length=300)
    policy_number: str | None = Field(default=None, max_length=100)


class CreatePoliciesRequest(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    defaults: PolicyDefaults = PolicyDefaults()
    overrides: dict[int, LineOverride] = {}  # by line number
    line_nos: list[int] | None = None  # None: every unmatched line


def session_json(s: PolicySession) -> dict[str, Any]:
    return {"id": s.id, "number": s.number, "statement_id": s.statement_id, "carrier": s.carrier,
            "created_by": s.created_by, "created_at": s.created_at.isoformat(), "count": s.count,
            "refused": s.refused}


# -- responses ----------------------------------------------------------------------------------------
class SessionOut(Out):
    id: str
    number: int
    statement_id: str | None
    carrier: str
    created_by: str
    created_at: str
    count: int
    refused: int


class SessionCreated(SessionOut):
    created: bool  # False: the session this idempotency key already made (200)


class JobOut(Out):
    id: str
    statement_id: str
    status: str
    total: int
    done: int
    phase: str | None
    session_id: str | None
    error: str | None
    attempts: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    url: str
    page: str
    session: SessionOut | None = None  # once the job made its session


class JobAccepted(Out):
    background: bool
    job: JobOut


class SessionPage(Out):
    total: int
    limit: int
    offset: int
    items: list[SessionOut]


class SessionPolicyOut(Out):
    policy_id: str
    client_name: str
    policy_number: str
    policy_type: str | None
    status: str | None
    effective_date: str | None


class SessionWithPolicies(SessionOut):
    policies: list[SessionPolicyOut]


class UndoReasonOut(Out):
    reason: str
    count: int


class UndoPolicyOut(Out):
    policy_id: str
    policy_number: str
    client_name: str
    status: str | None
    voidable: bool
    reason: str | None  # why it cannot be voided (None: it can)


class UndoOut(Out):
    """A dry run (``voidable``: what the undo would void) or the undo itself (``voided``); the page of
    policies is ``show``: voidable, blocked (cannot be voided, with the reason) or all."""

    session_id: str
    session_number: int
    dry_run: bool
    window_hours: int
    undo_until: str
    policies: int
    voidable: int
    voided: int
    not_voidable: int
    already_voided: int
    message: str
    reasons: list[UndoReasonOut]
    show: str
    total: int
    limit: int
    offset: int
    items: list[UndoPolicyOut]
