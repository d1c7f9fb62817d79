"""Matching statement lines to the carrier's policies by policy number (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from intake.statements.domain.mapping import MappingProfile

MATCHED, UNMATCHED, AMBIGUOUS = "matched", "unmatched", "ambiguous"

# A candidate policy: (policy id, number as written, term start, term end). Plain tuples: the
# index holds the carrier's whole book.
Candidate = tuple[str, str, date | None, date | None]


@dataclass(frozen=True)
class MatchResult:
    status: str
    policy_id: str | None
    reason: str


def covers(c: Candidate, day: date) -> bool:
    """The line's date falls in the policy's term [start, end) (an open end covers any later date)."""
    return c[2] is not None and c[2] <= day and (c[3] is None or day < c[3])


def label(c: Candidate) -> str:
    return c[1] if c[2] is None and c[3] is None else f"{c[1]} ({c[2] or '?'} to {c[3] or '?'})"


class PolicyIndex:
    """The carrier's policies by exact and by normalised number, with the terms of the policies
    that share a normalised number (so a line's effective date can tell them apart)."""

    def __init__(self, profile: MappingProfile,
                 policies: Iterable[tuple[str, str] | tuple[str, str, date | None, date | None]] = ()) -> None:
        self.profile = profile
        self.count = 0
        # normalised number → its one candidate, or a list of them
        self.normalised: dict[str, Candidate | list[Candidate]] = {}
        for policy in policies:
            self.add(*policy)

    def add(self, policy_id: str, number: str, start: date | None = None, end: date | None = None) -> None:
        self.count += 1
        key = self.profile.normalise(number)
        candidate = (policy_id, number, start, end)
        found = self.normalised.get(key)
        if found is None:
            self.normalised[key] = candidate
        elif isinstance(found, list):
            found.append(candidate)
        else:
            self.normalised[key] = [found, candidate]

    def shared(self) -> list[str]:
        """Ids of the policies whose normalised number another policy has too."""
        return [c[0] for found in self.normalised.values() if isinstance(found, list) for c in found]

    def set_terms(self, terms: Mapping[str, tuple[date | None, date | None]]) -> None:
        for key, found in self.normalised.items():
            if isinstance(found, list):
                self.normalised[key] = [(c[0], c[1], *terms.get(c[0], (c[2], c[3]))) for c in found]

    def __len__(self) -> int:
        return self.count

    def match(self, number: str, normalised: str | None = None, effective_date: date | None = None) -> MatchResult:
        return MatchResult(*self.match_fields(number, normalised, effective_date))

    def match_fields(self, number: str, normalised: str | None = None, effective_date: date | None = None
                     ) -> tuple[str, str | None, str]:
        """As :meth:`match`, as a plain (status, policy id, reason) (once per line of an import)."""
        normalised = normalised if normalised is not None else self.profile.normalise(number)
        found = self.normalised.get(normalised)
        if found is None:
            return UNMATCHED, None, f"no policy of this carrier has number {normalised}"
        if not isinstance(found, list):
            if number.strip().upper() == found[1].strip().upper():
                return MATCHED, found[0], "exact policy number"
            return MATCHED, found[0], f"normalised policy number {normalised} (case, spaces, dashes, prefixes ignored)"
        # several policies (terms) share the number: the line's effective date may pick one
        if effective_date is not None:
            picked = [c for c in found if covers(c, effective_date)]
            if len(picked) > 1:  # overlapping or open terms: the one that starts on that very day
                picked = [c for c in picked if c[2] == effective_date]
            if len(picked) == 1:
                c = picked[0]
                why = (f"policy term by effective date: {effective_date} falls in the term of {label(c)}, "
                       f"one of {len(found)} policies numbered {normalised}")
                return MATCHED, c[0], why
        names = ", ".join(sorted(label(c) for c in found)[:10])
        why = f"; effective date {effective_date} picks no single term" if effective_date else ""
        return AMBIGUOUS, None, f"{len(found)} policies normalise to {normalised}: {names}{why}"
