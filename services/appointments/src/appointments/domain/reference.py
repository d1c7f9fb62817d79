"""Reference data as the eligibility engine reads it: the rows in force on a day (effective dating)
and ``RefData``, built once per bulk call from them and indexed for dict look-ups only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar


@lru_cache(maxsize=8192)
def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


# -- effective-dated reference rows -------------------------------------------------------------------
R = TypeVar("R")


def effective(rows: Iterable[R], key: Any, as_of: date) -> dict[Any, R]:
    """For each key, the row in force on ``as_of``: the latest ``effective_date`` not after it (and
    among equal dates, the one recorded last). A rule change is a new row, never an edit."""
    best: dict[Any, tuple[tuple[Any, ...], R]] = {}
    for row in rows:
        eff = _get(row, "effective_date")
        if eff > as_of:
            continue
        rank = (eff, _get(row, "recorded_at"), _get(row, "id"))
        k = key(row)
        current = best.get(k)
        if current is None or rank > current[0]:
            best[k] = (rank, row)
    return {k: r for k, (_, r) in best.items()}


def _get(row: Any, name: str, default: Any = None) -> Any:
    return row.get(name, default) if isinstance(row, dict) else getattr(row, name, default)


def _row_ref(table: str, row: Any, says: str) -> RowRef:
    return RowRef(table, _get(row, "id"), _get(row, "effective_date"), _get(row, "source"), says)


# -- reference data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Company:
    id: str
    name: str
    loa_categories: frozenset[str]  # normalised
    loa_category_names: tuple[str, ...] = ()  # as recorded, for explanations


@dataclass(frozen=True)
class RowRef:
    """One reference-data row as a decision cites it: its table and id, the day it took effect, where it
    came from, and what it says in words."""

    table: str
    id: Any
    effective_date: date | None
    source: str | None
    says: str


@dataclass(frozen=True)
class StateSetting:
    appoints: bool
    jit: bool


@dataclass
class RefData:
    """The reference data in force on one day, indexed for the engine."""

    as_of: date
    companies: dict[str, Company] = field(default_factory=dict)  # by CoCode
    state_settings: dict[tuple[str, str], StateSetting] = field(default_factory=dict)  # (company id, state)
    lines: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (state, norm category) → lines
    line_index: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (state, norm line) → (category, line)
    categories: dict[str, str] = field(default_factory=dict)  # norm → display name
    known_lines: set[str] = field(default_factory=set)  # normalised line names in any state
    fees: dict[str, Decimal] = field(default_factory=dict)
    termination_codes: dict[str, dict[str, str]] = field(default_factory=dict)  # state → code → description
    default_termination: dict[str, str] = field(default_factory=dict)
    # states that refuse for-cause terminations electronically → what to do instead
    for_cause_manual: dict[str, str] = field(default_factory=dict)
    assignment_required: bool = False
    # The rows behind the indexes above, for explanations: the in-force company state setting of each
    # (company id, state) (one that stops appointing included), and the in-force business rules by
    # (state, norm line) (an active one preferred) and by (state, norm category).
    setting_rows: dict[tuple[str, str], RowRef] = field(default_factory=dict)
    rule_rows: dict[tuple[str, str], RowRef] = field(default_factory=dict)
    category_rules: dict[tuple[str, str], list[RowRef]] = field(default_factory=dict)

    @classmethod
    def build(cls, as_of: date, *, companies: Iterable[Any], cocodes: Iterable[Any], state_settings: Iterable[Any],
              business_rules: Iterable[Any], fees: Iterable[Any], termination_reasons: Iterable[Any],
              assignment_required: bool, filing_rules: Iterable[Any] = ()) -> RefData:
        ref = cls(as_of=as_of, assignment_required=assignment_required)
        by_id = {}
        for c in companies:
            names = tuple(x.strip() for x in (_get(c, "loa_categories") or "").split(";") if x.strip())
            by_id[_get(c, "id")] = Company(_get(c, "id"), _get(c, "name"), frozenset(norm(x) for x in names), names)
        for cc in cocodes:
            company = by_id.get(_get(cc, "company_id"))
            if company is not None:
                ref.companies[_get(cc, "cocode")] = company
        for (company_id, state), s in effective(
                state_settings, lambda r: (_get(r, "company_id"), _get(r, "state")), as_of).items():
            name = by_id[company_id].name if company_id in by_id else company_id
            ref.setting_rows[(company_id, state)] = _row_ref(
                "company_state_settings", s,
                f"{name} {'appoints' if _get(s, 'appoints') else 'does not appoint'} in {state}"
                + (" (just in time)" if _get(s, "appoints") and _get(s, "jit") else ""))
            if _get(s, "appoints"):
                ref.state_settings[(company_id, state)] = StateSetting(True, bool(_get(s, "jit")))
        lines: dict[tuple[str, str], list[str]] = {}
        for (state, _cat, _line), r in (effective(
                business_rules, lambda r: (_get(r, "state"), norm(_get(r, "loa_category")),
                                           norm(_get(r, "line_of_authority"))), as_of).items()):
            cat, line = _get(r, "loa_category"), _get(r, "line_of_authority")
            active = bool(_get(r, "active"))
            cited = _row_ref("business_rules", r, f"in {state}, {line} is {'an active' if active else 'not an active'} "
                                                  f"line of the category {cat}")
            ref.category_rules.setdefault((state, norm(cat)), []).append(cited)
            if active or (state, norm(line)) not in ref.rule_rows:
                ref.rule_rows[(state, norm(line))] = cited
            if not active:
                continue
            ref.categories.setdefault(norm(cat), cat)
            lines.setdefault((state, norm(cat)), []).append(line)
            ref.line_index[(state, norm(line))] = (cat, line)
            ref.known_lines.add(norm(line))
        ref.lines = {k: tuple(vs) for k, vs in lines.items()}
        ref.fees = {state: _get(r, "appointment_fee") for state, r in
                    effective(fees, lambda r: _get(r, "state"), as_of).items()}
        for (state, code), r in effective(termination_reasons, lambda r: (_get(r, "state"), _get(r, "code")),
                                          as_of).items():
            if _get(r, "accepted"):
                ref.termination_codes.setdefault(state, {})[code] = _get(r, "description")
                if _get(r, "is_default"):
                    ref.default_termination[state] = code
        for state, r in effective(filing_rules, lambda r: _get(r, "state"), as_of).items():
            if not _get(r, "for_cause_electronic"):
                ref.for_cause_manual[state] = (_get(r, "instructions")
                                               or f"{state} does not accept for-cause terminations electronically: "
                                                  "file it in writing with the state's insurance department")
        return ref
