"""Events reporting owns."""

from __future__ import annotations

from datetime import datetime

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import event


@event
class TeamScreensCalculated(EventPayload):
    """The Team Screens batch process stored a new snapshot (seed 004)."""

    topic = topics.REPORTING_TEAM_SCREENS
    event_type = "reporting.team-screens.calculated"

    snapshot_id: str
    calculated_on: datetime
    triggered_by: str
    # Optional (added later): how many (user or group, category, status) counts it holds, how long it
    # took, and the start of each category's window.
    count_rows: int | None = None
    duration_ms: int | None = None
    window_starts: dict[str, datetime] = {}

    def key(self) -> str:
        return self.snapshot_id
