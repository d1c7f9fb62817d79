"""What the eligibility engine judges and answers: the producer as it sees it (licenses, assignments),
the requests (appoint, terminate), the transactions on record and the results; identities."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from appointments.domain.reference import RowRef, norm


# -- the producer as the engine sees it ----------------------------------------------------------------
@dataclass(frozen=True)
class License:
    state: str
    license_number: str
    license_class: str
    lines_of_authority: frozenset[str]  # normalised
    active: bool
    resident: bool
    expiration_date: date | None = None
    line_names: tuple[str, ...] = ()  # as NIPR spelt them, for explanations
    fetched_at: datetime | None = None  # when the PDB sync brought it

    def in_force(self, as_of: date) -> bool:
        return self.active and (self.expiration_date is None or self.expiration_date >= as_of)

    def fact(self, line: str, as_of: date) -> LicenseFact:
        """This license as an explanation cites it (``line`` normalised)."""
        return LicenseFact(self.state, self.license_number, self.license_class, self.resident, self.active,
                           self.expiration_date, self.in_force(as_of), line in self.lines_of_authority,
                           self.line_names or tuple(sorted(self.lines_of_authority)), self.fetched_at)


@dataclass(frozen=True)
class LicenseFact:
    """A license as it stood when a transaction was judged."""

    state: str
    license_number: str
    license_class: str
    resident: bool
    active: bool
    expiration_date: date | None
    in_force: bool
    holds_line: bool  # holds the line of authority judged
    lines_of_authority: tuple[str, ...]
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class Why:
    """The facts that decided a Not Eligible transaction, as data: the check that failed (``rule``, in
    words), the company and its state setting row, the business rule row of the line, the licenses."""

    reason: str
    rule: str
    as_of: date
    state: str
    cocode: str
    line_of_authority: str
    loa_category: str | None
    company: str | None = None
    company_categories: tuple[str, ...] = ()
    state_setting: RowRef | None = None
    business_rule: RowRef | None = None
    licenses: tuple[LicenseFact, ...] = ()
    matches: tuple[str, ...] = ()  # the transactions on record it is identical to

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (dates as ISO text), to store beside the transaction and show later."""
        return _plain(asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(x) for x in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


@dataclass
class Producer:
    npn: str
    synced: bool
    active: bool
    licenses: dict[str, list[License]] = field(default_factory=dict)  # by state
    assignments: set[tuple[str, str, str]] = field(default_factory=set)  # (norm category, state, cocode or "")

    def resident_license_in_force(self, as_of: date) -> bool:
        return any(lic.resident and lic.in_force(as_of) for ls in self.licenses.values() for lic in ls)


# -- requests and results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AppointRequest:
    npn: str
    states: tuple[str, ...]
    loa_category: str
    cocodes: tuple[str, ...]
    submit: bool = False
    submit_jit: bool = False


@dataclass(frozen=True)
class TerminateRequest:
    npn: str
    state: str
    line_of_authority: str
    cocode: str
    termination_reason_code: str | None = None  # blank: the state's default code
    for_cause: bool = False


@dataclass(frozen=True)
class Existing:
    """A transaction already on record, as a new request is compared with it."""

    id: str
    status: str
    batch_id: str | None
    eligibility_reason: str | None = None


# identity (kind, npn, state, normalised line, cocode) → the transactions on record with it
Known = dict[tuple[str, ...], list[Existing]]


@dataclass
class Evaluated:
    npn: str
    state: str
    line_of_authority: str
    loa_category: str | None
    cocode: str
    company_name: str | None
    status: str
    eligibility_reason: str | None
    billable: bool
    jit: bool
    fee: Decimal | None
    license_number: str | None
    auto_submit: bool
    kind: str = "appointment"
    termination_reason_code: str | None = None
    for_cause: bool = False
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    why: Why | None = None  # Not Eligible: what decided it

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.npn, self.state, norm(self.line_of_authority), self.cocode)


@dataclass
class Refusal:
    state: str | None
    cocode: str | None
    reason: str
    line_of_authority: str | None = None
    matches: tuple[Existing, ...] = ()  # the transactions on record it is identical to


@dataclass
class RequestResult:
    npn: str
    rejection_reason: str | None = None
    refusals: list[Refusal] = field(default_factory=list)
    transactions: list[Evaluated] = field(default_factory=list)
    released: list[Existing] = field(default_factory=list)  # held ones this request sends

    @property
    def identical(self) -> bool:
        """Nothing created or released: every part matched transactions already on record."""
        return (not self.transactions and not self.released and bool(self.refusals)
                and all(r.matches for r in self.refusals))


def identity(kind: str, npn: str, state: str, line: str, cocode: str) -> tuple[str, str, str, str, str]:
    return (kind, npn, state, norm(line), cocode)


def identity_key(kind: str, npn: str, state: str, line: str, cocode: str, license_number: str | None = None) -> str:
    """The stored form of an identity; the database refuses two identical ones pending at NIPR."""
    return "|".join((kind, npn, state, norm(line), cocode, license_number or ""))
