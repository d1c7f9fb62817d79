"""Matching statement lines to the carrier's policies by policy number (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from intake.domain.mapping import MappingProfile

MATCHED, UNMATCHED, AMBIGUOUS = "matched", "unmatched", "ambiguous"


@dataclass(frozen=True)
class MatchResult:
    status: str
    policy_id: str | None
    reason: str


class PolicyIndex:
    """The carrier's policies by exact and by normalised number."""

    def __init__(self, profile: MappingProfile, policies: Iterable[tuple[str, str]] = ()) -> None:
        self.profile = profile
        self.exact: dict[str, str] = {}
        self.normalised: dict[str, list[tuple[str, str]]] = {}
        for policy_id, number in policies:
            self.add(policy_id, number)

    def add(self, policy_id: str, number: str) -> None:
        self.exact[number.strip().upper()] = policy_id
        self.normalised.setdefault(self.profile.normalise(number), []).append((policy_id, number))

    def __len__(self) -> int:
        return len(self.exact)

    def match(self, number: str, normalised: str | None = None) -> MatchResult:
        normalised = normalised if normalised is not None else self.profile.normalise(number)
        candidates = self.normalised.get(normalised, [])
        exact = self.exact.get(number.strip().upper())
        if exact is not None and len(candidates) <= 1:
            return MatchResult(MATCHED, exact, "exact policy number")
        if len(candidates) == 1:
            return MatchResult(MATCHED, candidates[0][0],
                               f"normalised policy number {normalised} (case, spaces, dashes, prefixes ignored)")
        if candidates:
            names = ", ".join(sorted(n for _, n in candidates)[:10])
            return MatchResult(AMBIGUOUS, None, f"{len(candidates)} policies normalise to {normalised}: {names}")
        return MatchResult(UNMATCHED, None, f"no policy of this carrier has number {normalised}")
