"""Events upstream systems publish: carrier feeds, the CRM, the policy-administration system."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import event


@event
class CarrierStatementStarted(EventPayload):
    """A carrier feed announces a statement; its rows follow in chunks, then a completion event."""

    topic = topics.UPSTREAM_CARRIER_STATEMENTS
    event_type = "upstream.carrier-statement.started"

    feed_statement_id: str  # the feed's own id: a repeat of the same id is the same statement
    carrier: str
    file_name: str | None = None
    statement_date: date | None = None
    columns: list[str]  # header names, mapped like a file's header row
    expected_rows: int | None = None

    def key(self) -> str:
        return self.feed_statement_id


@event
class CarrierStatementRows(EventPayload):
    topic = topics.UPSTREAM_CARRIER_STATEMENTS
    event_type = "upstream.carrier-statement.rows"

    feed_statement_id: str
    chunk_no: int
    first_line_no: int
    rows: list[list[str | None]]

    def key(self) -> str:
        return self.feed_statement_id


@event
class CarrierStatementCompleted(EventPayload):
    topic = topics.UPSTREAM_CARRIER_STATEMENTS
    event_type = "upstream.carrier-statement.completed"

    feed_statement_id: str
    chunk_count: int
    row_count: int

    def key(self) -> str:
        return self.feed_statement_id


@event
class IndividualUpserted(EventPayload):
    """An individual from the CRM (fields as in seed 001; PII arrives in clear over the wire and is
    encrypted by intake at rest)."""

    topic = topics.UPSTREAM_INDIVIDUALS
    event_type = "upstream.individual.upserted"

    external_id: str
    version: int
    fields: dict[str, Any]
    custom_fields: dict[str, Any] = {}

    def key(self) -> str:
        return self.external_id


class PolicyPeriod(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model_number: int | None = None
    locked: bool = False
    status: str | None = None  # e.g. bound, non_renewed, not_taken


JobType = Literal["submission", "renewal", "cancellation", "reinstatement", "policy_change", "rewrite",
                  "rewrite_new_account", "audit"]


@event
class PolicyJobUpserted(EventPayload):
    topic = topics.UPSTREAM_POLICY_JOBS
    event_type = "upstream.policy-job.upserted"

    job_id: str
    version: int  # an older version never overwrites a newer one
    job_type: JobType
    assigned_user: str | None = None
    assigned_group: str | None = None
    create_time: datetime
    close_date: datetime | None = None
    periods: list[PolicyPeriod] = []

    def key(self) -> str:
        return self.job_id


@event
class ActivityUpserted(EventPayload):
    topic = topics.UPSTREAM_ACTIVITIES
    event_type = "upstream.activity.upserted"

    activity_id: str
    version: int
    subject: str
    assigned_user: str | None = None
    assigned_group: str | None = None
    status: Literal["open", "completed", "canceled", "skipped", "draft"]
    target_date: datetime | None = None
    close_date: datetime | None = None

    def key(self) -> str:
        return self.activity_id
