"""Carrier mapping profiles: which column holds which statement field, which transaction code is
which bill type, and how policy numbers are normalised. Finding the header row and turning a row
into a validated statement line (pure, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from intake.domain.values import (
    _NUMBER_NOISE,
    ValueProblem,
    clean,
    header_key,
    normalised_prefixes,
    parse_amount,
    parse_date,
    parse_rate,
)

BILL_TYPES = ("audit", "cancellation", "endorsement", "installment", "term_policy")

FIELDS: dict[str, str] = {
    "policy_number": "text",
    "insured_name": "text",
    "transaction_type": "text",
    "effective_date": "date",
    "expiration_date": "date",
    "line_of_business": "text",
    "premium": "amount",
    "commission_rate": "rate",
    "commission_amount": "amount",
    "producer_code": "text",
}
FIELD_LABELS = {
    "policy_number": "policy number", "insured_name": "insured name", "transaction_type": "transaction type",
    "effective_date": "effective date", "expiration_date": "expiration date",
    "line_of_business": "line of business", "premium": "premium", "commission_rate": "commission rate",
    "commission_amount": "commission amount", "producer_code": "producer code",
}
TEXT_LIMITS = {"policy_number": 100, "insured_name": 300, "transaction_type": 50, "line_of_business": 100,
               "producer_code": 100}

DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "policy_number": ("policy number", "policy #", "policy no", "policy no.", "policy num", "policy", "pol #",
                      "pol no", "policy id", "policynumber", "policy nbr", "policy_number"),
    "insured_name": ("insured name", "insured", "named insured", "policy holder", "policyholder",
                     "policy holder name", "client", "client name", "customer", "customer name", "bill to",
                     "bill to name", "name", "account name", "insured_name"),
    "transaction_type": ("transaction type", "trans type", "transaction type code", "txn type", "trans code",
                         "transaction code", "type", "transaction", "bill type", "transaction_type"),
    "effective_date": ("effective date", "eff date", "eff dt", "policy eff date", "transaction date",
                       "trans eff date", "transaction eff date", "eff", "effective", "effective_date"),
    "expiration_date": ("expiration date", "exp date", "exp dt", "policy exp date", "expiry date",
                        "expiration", "expiration_date"),
    "line_of_business": ("line of business", "lob", "lob code", "coverage", "coverage type", "product", "line",
                         "line_of_business"),
    "premium": ("premium", "written premium", "premium amount", "prem", "commissionable premium",
                "commissionable amount", "gross premium", "premium paid", "prem amt"),
    "commission_rate": ("commission rate", "comm rate", "comm %", "comm percent", "commission %", "rate",
                        "commission percent", "comm pct", "commission_rate"),
    "commission_amount": ("commission amount", "commission", "comm amt", "comm amount", "commission paid",
                          "comm", "commission_amount"),
    "producer_code": ("producer code", "producer", "producer subcode", "agent code", "agent", "producer id",
                      "agency code", "producer_code"),
}

DEFAULT_BILL_TYPES: dict[str, str] = {
    "AUD": "audit", "AUDIT": "audit",
    "XLC": "cancellation", "CAN": "cancellation", "CNL": "cancellation", "CANCEL": "cancellation",
    "CANCELLATION": "cancellation",
    "PCH": "endorsement", "END": "endorsement", "ENDT": "endorsement", "ENDORSEMENT": "endorsement",
    "ADJ": "endorsement", "POLICY CHANGE": "endorsement",
    "INS": "installment", "INST": "installment", "INSTALLMENT": "installment", "INSTALMENT": "installment",
    "NBS": "term_policy", "NEW": "term_policy", "RWL": "term_policy", "REN": "term_policy",
    "RIX": "term_policy", "REISSUE": "term_policy", "TERM": "term_policy", "TERM POLICY": "term_policy",
    "NEW BUSINESS": "term_policy", "RENEWAL": "term_policy",
    # a reinstatement reverses a cancellation's return premium: like it, it moves billed only
    "REI": "cancellation", "REINSTATEMENT": "cancellation", "ADJUSTMENT": "endorsement",
}

# The policy status a transaction code leaves the policy in (DOMAIN-FACTS: NBS new business, RWL
# renewal, RIX reissue, PCH policy change, ADJ adjustment, AUD audit, XLC cancellation, REI
# reinstatement). Every other code of the table keeps a policy in force.
CANCELLATION_CODES = frozenset({"XLC", "CAN", "CNL", "CANCEL", "CANCELLATION"})
REINSTATEMENT_CODES = frozenset({"REI", "REINSTATEMENT"})


def status_for_code(code: str | None, bill_type: str | None) -> str | None:
    """"cancelled" or "active" as the line's transaction code says; a carrier's own code (mapped in its
    profile) by its bill type; None without a code."""
    key = (code or "").strip().upper()
    if not key:
        return None
    if key in CANCELLATION_CODES:
        return "cancelled"
    if key in REINSTATEMENT_CODES or key in DEFAULT_BILL_TYPES:
        return "active"
    return "cancelled" if bill_type == "cancellation" else "active"


_POLICY_CHARS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-./_]*$")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class MappingProfile:
    """A carrier's profile. ``columns`` maps a field to the header the carrier uses (explicit
    choices win over the default spellings); ``bill_types`` maps transaction codes (upper case) to
    bill types; ``prefixes`` are dropped from policy numbers before matching."""

    columns: Mapping[str, str] = field(default_factory=dict)
    bill_types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_BILL_TYPES))
    prefixes: tuple[str, ...] = ()
    sheet: str | None = None

    @classmethod
    def from_stored(cls, columns: Mapping[str, str] | None, bill_types: Mapping[str, str] | None,
                    prefixes: Sequence[str] | None, sheet: str | None) -> MappingProfile:
        merged = dict(DEFAULT_BILL_TYPES)
        merged.update({k.strip().upper(): v for k, v in (bill_types or {}).items()})
        return cls(columns={k: v for k, v in (columns or {}).items() if v}, bill_types=merged,
                   prefixes=tuple(p for p in (prefixes or ()) if p), sheet=sheet or None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_prepared", normalised_prefixes(self.prefixes))

    def normalise(self, number: str | None) -> str:
        """As :func:`normalise_policy_number` (run once per line and per policy of the book: inlined)."""
        text = number.lstrip() if number else ""
        if text[:1] == "'":
            text = clean(text)
        text = _NUMBER_NOISE.sub("", text).upper()
        for prefix in self._prepared:  # type: ignore[attr-defined]
            if text.startswith(prefix) and len(text) > len(prefix):
                return text[len(prefix):]
        return text


def validate_profile(columns: Mapping[str, str], bill_types: Mapping[str, str]) -> list[str]:
    problems = [f"unknown field {f!r}" for f in columns if f not in FIELDS]
    problems += [f"transaction code {code!r}: unknown bill type {bt!r}" for code, bt in bill_types.items()
                 if bt not in BILL_TYPES]
    return problems


def map_header(cells: Sequence[str], profile: MappingProfile) -> dict[str, int] | None:
    """Field → column index when ``cells`` is a header row (it must name the policy number column
    and at least one other field), else None."""
    keys = [header_key(c) for c in cells]
    found: dict[str, int] = {}
    for fname, header in profile.columns.items():
        k = header_key(header)
        if k in keys:
            found[fname] = keys.index(k)
    taken = set(found.values())
    for fname, aliases in DEFAULT_ALIASES.items():
        if fname in found:
            continue
        for alias in aliases:
            k = header_key(alias)
            if k in keys and keys.index(k) not in taken:
                found[fname] = keys.index(k)
                taken.add(found[fname])
                break
    if "policy_number" not in found or len(found) < 2:
        return None
    return found


@dataclass
class LineResult:
    values: dict[str, Any]
    errors: list[str]
    cells: Sequence[str]
    header: Sequence[str]
    normalised_number: str | None = None

    @property
    def raw(self) -> dict[str, str]:
        return raw_values(self.cells, self.header)

    @property
    def valid(self) -> bool:
        return not self.errors


def raw_values(cells: Sequence[str], header: Sequence[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for i, value in enumerate(cells):
        name = header[i] if i < len(header) and header[i].strip() else f"column {i + 1}"
        if name in raw:
            name = f"{name} ({i + 1})"
        if i < len(header) or value.strip():
            raw[name] = value
    return raw


_PARSERS = {"amount": parse_amount, "rate": parse_rate, "date": parse_date}


@lru_cache(maxsize=64)
def _plan(columns: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int, Any, str, int], ...]:
    return tuple((f, i, _PARSERS.get(FIELDS[f]), FIELD_LABELS[f], TEXT_LIMITS.get(f, 0)) for f, i in columns)


def validate_line(cells: Sequence[str], header: Sequence[str], columns: Mapping[str, int],
                  profile: MappingProfile) -> LineResult:
    """Every problem of the row is reported, not only the first."""
    values, errors, normalised = validate_cells(cells, _plan(tuple(columns.items())), profile)
    return LineResult(values=values, errors=errors, cells=cells, header=header, normalised_number=normalised)


def column_plan(columns: Mapping[str, int]) -> tuple[tuple[str, int, Any, str, int], ...]:
    """What :func:`validate_cells` does per column, computed once per header."""
    return _plan(tuple(columns.items()))


def validate_cells(cells: Sequence[str], plan: tuple[tuple[str, int, Any, str, int], ...],
                   profile: MappingProfile) -> tuple[dict[str, Any], list[str], str | None]:
    """The row's values, every problem of it, and its normalised policy number (the hot path of
    an import: plain code, no objects per row)."""
    errors: list[str] = []
    values: dict[str, Any] = {}
    ncells = len(cells)
    for fname, index, parse, label, limit in plan:
        raw = cells[index] if index < ncells else ""
        if parse is None:
            text = raw.strip()
            if text[:1] == "'":
                text = clean(text)
            if "  " in text or not text.isprintable():  # newlines, tabs, runs of spaces
                text = _WS.sub(" ", text)
            if len(text) > limit:
                errors.append(f"{label} is longer than {limit} characters ({len(text)})")
                continue
            values[fname] = text or None
            continue
        try:
            values[fname] = parse(raw)
        except ValueProblem as exc:
            errors.append(f"{label}: {exc}")
    number = values.get("policy_number")
    normalised = None
    if not number:
        if "policy_number" in values or not (errors and any(e.startswith("policy number") for e in errors)):
            errors.append("policy number is missing")
    elif not _POLICY_CHARS.match(number):
        errors.append(f"policy number has characters a policy number cannot have: {number[:40]!r}")
    else:
        normalised = profile.normalise(number)
        if not normalised:
            errors.append(f"policy number {number!r} is only a carrier prefix")
    if values.get("premium") is None and values.get("commission_amount") is None and not (
        errors and any(e.startswith(("premium", "commission amount")) for e in errors)
    ):
        errors.append("neither premium nor commission amount is given")
    code = values.get("transaction_type")
    if code:
        bill_type = profile.bill_types.get(code) or profile.bill_types.get(code.strip().upper())
        if bill_type is None:
            errors.append(f"transaction type {code[:40]!r} is not mapped to a bill type in the carrier profile")
        values["bill_type"] = bill_type
    else:
        values["bill_type"] = None
    eff: date | None = values.get("effective_date")
    exp: date | None = values.get("expiration_date")
    if eff and exp and exp < eff:
        errors.append("expiration date is before effective date")
    rate: Decimal | None = values.get("commission_rate")
    if rate is not None and rate < 0:
        errors.append("commission rate is negative")
    return values, errors, normalised
