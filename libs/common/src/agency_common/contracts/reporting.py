"""Events reporting owns."""

from __future__ import annotations

from datetime import datetime

from agency_common.contracts import topics
from agency_common.contracts.envelope import EventPayload
from agency_common.contracts.registry import event


@event
class TeamScreensCalculated(EventPayload):
    topic = topics.REPORTING_TEAM_SCREENS
    event_type = "reporting.team-screens.calculated"

    snapshot_id: str
    calculated_on: datetime
    triggered_by: str

    def key(self) -> str:
        return self.snapshot_id
