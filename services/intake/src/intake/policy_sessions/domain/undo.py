"""Undo of a Create-Policies session (issue 15): which of its policies may be voided, and why the
others may not. Pure rules; the facts come from one set-based read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

VOIDED = "voided"  # the status a voided policy keeps (the row stays: invoicing's read model follows it)


@dataclass(frozen=True)
class PolicyFacts:
    """What the book knows of one of the session's policies since it was created."""

    status: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    postings: bool  # an invoice was posted to it
    other_lines: bool  # a statement line other than the session's own is matched to it
    sales_record: bool  # its client's individual got a sales record since the policy was created


def undo_window_refusal(created_at: datetime, now: datetime, hours: int) -> str | None:
    """Words when the session is too old to undo; None inside the window."""
    if now - created_at > timedelta(hours=hours):
        return (f"this session was created more than {hours} hours ago: "
                "its policies can no longer be voided by an undo")
    return None


def blocking_reason(f: PolicyFacts, *, statement_published: bool) -> str | None:
    """Why this policy cannot be voided (the first reason in the order a person checks), or None."""
    if f.status == VOIDED:
        return "already voided"
    if statement_published:
        # its lines went to invoicing, which may have invoiced them
        return "the session's statement was published to invoicing"
    if f.postings:
        return "an invoice was posted to it"
    if f.version != 1 or f.updated_at != f.created_at:
        return "it was edited after it was created"
    if f.other_lines:
        return "a line of another statement (or another line) is matched to it"
    if f.sales_record:
        return "its client has a sales record made since"
    return None
