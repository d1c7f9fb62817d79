"""Manual tasks: terminations the Gateway cannot file."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from appointments.models.base import AppointmentsModel, new_id, ts


class ManualTask(AppointmentsModel, table=True):
    """Work the Gateway cannot do, shown to the operator: a for-cause termination in a state that
    refuses it electronically (filed in writing with the department instead)."""

    __tablename__ = "manual_tasks"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(default="for-cause termination", max_length=50)
    status: str = Field(default="open", max_length=20, index=True)  # open | done
    npn: str = Field(max_length=10, index=True)
    state: str = Field(max_length=2)
    line_of_authority: str = Field(max_length=100)
    cocode: str = Field(max_length=10)
    termination_reason_code: str | None = Field(default=None, max_length=50)
    instructions: str = Field(max_length=500)
    import_id: str | None = Field(default=None, max_length=36, index=True)
    line: int | None = None
    created_by: str = Field(max_length=100)
    created_at: datetime = ts()
    done_by: str | None = Field(default=None, max_length=100)
    done_at: datetime | None = ts(nullable=True)
    note: str | None = Field(default=None, max_length=1000)
