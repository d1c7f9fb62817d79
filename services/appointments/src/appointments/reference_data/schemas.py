"""Reference data's JSON for a load."""

from __future__ import annotations

from appointments.responses import Out


class RowsLoaded(Out):
    kind: str
    rows_loaded: int
