"""The operations views' response models."""

from __future__ import annotations

from typing import Any

from reporting.responses import Out


class EventCountOut(Out):
    topic: str
    event_type: str
    count: int  # entities: a bulk event counts each entity of its chunk


class DeadLetterCountOut(Out):
    topic: str
    count: int


class SectionOut(Out):
    key: str
    title: str
    note: str
    rows: list[dict[str, Any]]  # one object per row, keyed by the section's header


class ViewOut(Out):
    view: str
    title: str
    sections: list[SectionOut]
