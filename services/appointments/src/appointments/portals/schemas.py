"""Portals' JSON: a portal, and the answer to an invite (``portals.invite``)."""

from __future__ import annotations

from appointments.responses import Out


class PortalOut(Out):
    id: str
    name: str
    seats: int
    recorded_by: str
    recorded_at: str


class InviteResult(Out):
    """One producer's outcome: ``ok`` with ``action`` (created / updated) and ``invite_id``, or an ``error``."""

    producer_id: str
    npn: str | None = None
    name: str | None = None
    ok: bool
    error: str | None = None
    action: str | None = None
    invite_id: str | None = None


class InviteOut(Out):
    portal: str
    seats: int
    seats_used: int
    results: list[InviteResult]
