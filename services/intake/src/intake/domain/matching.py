"""Matching statement lines to the carrier's policies by policy number (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from intake.domain.mapping import MappingProfile

MATCHED, UNMATCHED, AMBIGUOUS = "matched", "unmatched", "ambiguous"


@dataclass(frozen=True)
class MatchResult:
    status: str
    policy_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Candidate:
    policy_id: str
    number: str
    start: date | None = None
    end: date | None = None

    def covers(self, day: date) -> bool:
        """The line's date falls in this policy's term [start, end) (an open end covers any later date)."""
        return self.start is not None and self.start <= day and (self.end is None or day < self.end)

    def label(self) -> str:
        if self.start is None and self.end is None:
            return self.number
        return f"{self.number} ({self.start or '?'} to {self.end or '?'})"


class PolicyIndex:
    """The carrier's policies by exact and by normalised number (with their terms, so a line's
    effective date can tell two terms of one policy number apart)."""

    def __init__(self, profile: MappingProfile,
                 policies: Iterable[tuple[str, str] | tuple[str, str, date | None, date | None]] = ()) -> None:
        self.profile = profile
        self.exact: dict[str, str] = {}
        self.normalised: dict[str, list[Candidate]] = {}
        for policy in policies:
            self.add(*policy)

    def add(self, policy_id: str, number: str, start: date | None = None, end: date | None = None) -> None:
        self.exact[number.strip().upper()] = policy_id
        self.normalised.setdefault(self.profile.normalise(number), []).append(Candidate(policy_id, number, start, end))

    def __len__(self) -> int:
        return len(self.exact)

    def match(self, number: str, normalised: str | None = None, effective_date: date | None = None) -> MatchResult:
        normalised = normalised if normalised is not None else self.profile.normalise(number)
        candidates = self.normalised.get(normalised)
        if not candidates:
            return MatchResult(UNMATCHED, None, f"no policy of this carrier has number {normalised}")
        if len(candidates) == 1:
            only = candidates[0]
            if self.exact.get(number.strip().upper()) == only.policy_id:
                return MatchResult(MATCHED, only.policy_id, "exact policy number")
            return MatchResult(MATCHED, only.policy_id,
                               f"normalised policy number {normalised} (case, spaces, dashes, prefixes ignored)")
        # several policies (terms) share the number: the line's effective date may pick one
        if effective_date is not None:
            picked = [c for c in candidates if c.covers(effective_date)]
            if len(picked) > 1:  # overlapping or open terms: the one that starts on that very day
                picked = [c for c in picked if c.start == effective_date]
            if len(picked) == 1:
                c = picked[0]
                return MatchResult(MATCHED, c.policy_id,
                                   f"policy term by effective date: {effective_date} falls in the term of "
                                   f"{c.label()}, one of {len(candidates)} policies numbered {normalised}")
        names = ", ".join(sorted(c.label() for c in candidates)[:10])
        why = f"; effective date {effective_date} picks no single term" if effective_date else ""
        return MatchResult(AMBIGUOUS, None, f"{len(candidates)} policies normalise to {normalised}: {names}{why}")
