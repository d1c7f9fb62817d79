"""Request bodies of the stages (create invoices, Create/Pay All, post, pay, abort); the response
models of each stage's answer, at once (200) or as a background job (202), and of a job."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from invoicing.reconciliations.schemas import HeaderOut
from invoicing.responses import Out


class ActionBody(BaseModel):
    idempotency_key: str | None = Field(default=None, max_length=100)


class CreatePayBody(ActionBody):
    decision: Literal["create_pay", "create_pay_post", "cancel", "abort"] | None = None


class PostBody(ActionBody):
    target: Literal["invoices", "reconciliation"] = "invoices"
    invoice_ids: list[int] | None = Field(default=None, max_length=10000)


# -- responses ------------------------------------------------------------------------------------
# Every answer kept for an idempotency key comes back with ``replayed: true`` (``locking.replay``).
class JobOut(Out):
    """A background job (``jobs.job_json``): its progress, and its result once done (times ISO, with Z)."""

    id: str
    reconciliation_id: str
    kind: str
    status: str
    total: int
    done: int
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    created_by: str
    finished_at: str | None


class JobStarted(Out):
    """202: the stage runs as a background job (above the background threshold)."""

    outcome: Literal["background"] | None = None  # Create/Pay All says it
    background: bool
    job: JobOut
    replayed: bool = False


class InvalidRowOut(Out):
    """A selected row left in statement entry with its errors, by field."""

    id: int
    policy_number: str | None
    errors: dict[str, str]


class InvoicesCreated(Out):
    created: int
    exceptions: int
    exception_entry_ids: list[int]
    invalid: int
    invalid_rows: list[InvalidRowOut]
    duplicates_excluded: int
    reconciliation: HeaderOut
    replayed: bool = False


class ExceptionRowOut(Out):
    """A row with a production-credit exception, as the Create/Pay All popup lists it."""

    entry_id: int
    reasons: list[str]
    messages: list[str]
    commission: str | None
    credit_total: str
    people_total: str
    status: str
    policy_number: str | None
    client_name: str | None
    premium_paid: str | None
    bill_type: str | None
    effective_date: str | None


class ExceptionsFound(Out):
    """Create/Pay All with exceptions: nothing done until the operator decides (``options``)."""

    outcome: Literal["exceptions"]
    exception_count: int
    exceptions: list[ExceptionRowOut]
    options: list[str]
    reconciliation: HeaderOut


class Cancelled(Out):
    outcome: Literal["cancelled"]
    reconciliation: HeaderOut


class OfferedToNext(Out):
    count: int
    balance: str
    message: str


class Aborted(Out):
    """An abort, by stage (``abort.abort_stage``); from Create/Pay All with ``outcome: aborted``."""

    outcome: Literal["aborted"] | None = None
    aborted_stage: str
    invoices_removed: int
    invoices_kept_posted: int
    payments_voided: int
    voided_total: str
    offered_to_next: OfferedToNext
    reconciliation: HeaderOut
    replayed: bool = False


class AlreadyAborted(Out):
    outcome: Literal["already aborted"]
    reconciliation: HeaderOut


class CreatedPaid(Out):
    """Create/Pay All done at once: created, posted and paid (``next``: post the reconciliation, or direct bill)."""

    outcome: Literal["done"]
    created: int
    posted: int
    paid: int
    received_total: str
    exception_count: int
    invalid: int
    invalid_rows: list[InvalidRowOut]
    duplicates_excluded: int
    next: str
    reconciliation: HeaderOut
    replayed: bool = False


class Posted(Out):
    posted: int
    reconciliation: HeaderOut
    replayed: bool = False


class Closed(Out):
    """The reconciliation posted (closed)."""

    reconciliation: HeaderOut
    replayed: bool = False


class Paid(Out):
    paid: int
    received_total: str
    reconciliation: HeaderOut
    replayed: bool = False


CreateInvoicesOut = InvoicesCreated | JobStarted
CreatePayAllOut = ExceptionsFound | Cancelled | Aborted | CreatedPaid | JobStarted
PostOut = Posted | Closed | JobStarted
PayOut = Paid | JobStarted
AbortOut = Aborted | AlreadyAborted
