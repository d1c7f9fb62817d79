"""A user's time zone and the times they type (the "as of" form, ``?tz=``), checked in words."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None, default: str) -> ZoneInfo:
    """The IANA zone named (``America/New_York``), or the default; an unknown name is refused."""
    name = (name or "").strip() or default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as America/Chicago or UTC") from None


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """``2025-07-11T10:54`` (read in ``tz``) or with an offset (``...-05:00``, ``...Z``) → aware."""
    value = (text or "").strip()
    if not value:
        raise ValueError("give a time, such as 2025-07-11T10:54")
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"{value!r} is not a time: use YYYY-MM-DDTHH:MM, optionally with an offset") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
