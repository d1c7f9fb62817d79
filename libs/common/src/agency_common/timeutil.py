"""UTC time helpers. Timestamps are always time-zone aware and stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: timestamps must carry a time zone")
    return value.astimezone(UTC)
