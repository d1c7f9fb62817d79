"""Turning a stream of table rows into statement lines: find the header row, then validate and
match each row, counting every one (pure: rows in; dicts, or frames from the columnar fast path, out;
no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from agency_common.tabular import is_blank

from intake.statements.domain.columnar import Book, validate_rows
from intake.statements.domain.mapping import MappingProfile, column_plan, map_header, validate_cells
from intake.statements.domain.matching import PolicyIndex

HEADER_SCAN_LINES = 50
LINE_FIELDS = ("policy_number", "insured_name", "transaction_type", "bill_type", "effective_date", "expiration_date",
               "line_of_business", "premium", "commission_rate", "commission_amount", "producer_code")


class NotAStatement(ValueError):
    pass


@dataclass
class Counts:
    total: int = 0
    valid: int = 0
    invalid: int = 0
    blank: int = 0
    matched: int = 0
    unmatched: int = 0
    ambiguous: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def plus(self, other: Counts) -> Counts:
        return Counts(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})


@dataclass
class StatementParser:
    profile: MappingProfile
    index: PolicyIndex | None = None
    header: list[str] | None = None
    header_line: int | None = None
    columns: dict[str, int] = field(default_factory=dict)
    plan: tuple[Any, ...] = ()
    counts: Counts = field(default_factory=Counts)

    def use_header(self, header: Sequence[str]) -> None:
        columns = map_header(header, self.profile)
        if columns is None:
            raise NotAStatement(
                "not a statement: the columns do not name a policy number and another statement field "
                f"(columns: {', '.join(h for h in header if h)[:300] or 'none'})")
        self.header, self.columns = list(header), columns
        self.plan = column_plan(columns)

    def find_header(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        seen = 0
        for line_no, cells in rows:
            if is_blank(cells):
                continue
            seen += 1
            if map_header(cells, self.profile) is not None:
                self.use_header(cells)
                self.header_line = line_no
                return
            if seen >= HEADER_SCAN_LINES:
                break
        raise NotAStatement(
            "not a statement: no header row naming a policy number column and another statement field "
            f"in the first {HEADER_SCAN_LINES} lines")

    def line(self, statement_id: str, line_no: int, cells: list[str]) -> dict[str, Any] | None:
        """The row as a statement_lines row (None for a blank row, which is only counted)."""
        assert self.header is not None
        counts = self.counts
        counts.total += 1
        if not "".join(cells).strip():  # blank (as is_blank, one string op)
            counts.blank += 1
            return None
        row = self._validated(statement_id, line_no, cells)
        if row["valid"]:
            self._match(row, self.index)
        return row

    def _validated(self, statement_id: str, line_no: int, cells: list[str]) -> dict[str, Any]:
        counts = self.counts
        v, errors, normalised = validate_cells(cells, self.plan, self.profile)
        if errors:
            counts.invalid += 1
            row = {name: _fits(name, v.get(name)) for name in LINE_FIELDS}
            row.update(statement_id=statement_id, line_no=line_no, valid=False, errors=json.dumps(errors),
                       # the raw cells are kept for invalid rows (valid rows are in the stored file)
                       raw=json.dumps(list(cells), ensure_ascii=False), normalised_number=normalised,
                       match_status=None, match_reason=None, policy_id=None, excluded=False)
            return row
        counts.valid += 1
        row = _EMPTY_VALID.copy()
        row.update(v)
        row["statement_id"], row["line_no"], row["normalised_number"] = statement_id, line_no, normalised
        return row

    def _match(self, row: dict[str, Any], index: PolicyIndex | None) -> None:
        counts = self.counts
        if index is not None:
            status, row["policy_id"], row["match_reason"] = index.match_fields(
                row["policy_number"], row["normalised_number"], row["effective_date"])
            row["match_status"] = status
            setattr(counts, status, getattr(counts, status) + 1)
        else:
            row["match_status"], row["match_reason"], row["policy_id"] = "unmatched", "not matched yet", None
            counts.unmatched += 1

    def batch(self, statement_id: str, rows: Iterator[tuple[int, list[str]]], size: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line_no, cells in rows:
            row = self.line(statement_id, line_no, cells)
            if row is not None:
                out.append(row)
                if len(out) >= size:
                    break
        return out

    def take(self, rows: Iterator[tuple[int, list[str]]], size: int) -> list[tuple[int, list[str]]]:
        """The next ``size`` rows that are not blank (blank ones are counted)."""
        counts = self.counts
        out: list[tuple[int, list[str]]] = []
        for row in rows:
            counts.total += 1
            if not "".join(row[1]).strip():
                counts.blank += 1
                continue
            out.append(row)
            if len(out) >= size:
                break
        return out

    def columnar_batch(self, statement_id: str, rows: Iterator[tuple[int, list[str]]], size: int,
                       book: Book) -> tuple[pl.DataFrame | None, list[dict[str, Any]]]:
        """The next ``size`` non-blank rows: those the fast path accepts as a frame (matched by
        the book's join), the others validated and matched one by one (as :meth:`line`)."""
        return self.columnar_match(self.columnar_validate(statement_id, rows, size), book)

    def columnar_validate(self, statement_id: str, rows: Iterator[tuple[int, list[str]]], size: int
                          ) -> tuple[pl.DataFrame | None, list[dict[str, Any]]]:
        """The first half of :meth:`columnar_batch`, which needs no book: the accepted rows as a
        frame, the others validated one by one (not matched yet)."""
        assert self.header is not None
        taken = self.take(rows, size)
        if not taken:
            return None, []
        frame, rejected = validate_rows(taken, self.columns, self.profile)
        return frame, [self._validated(statement_id, *taken[i]) for i in rejected]

    def columnar_match(self, validated: tuple[pl.DataFrame | None, list[dict[str, Any]]], book: Book
                       ) -> tuple[pl.DataFrame | None, list[dict[str, Any]]]:
        """The second half: the frame matched by the book's join, lines whose number several
        policies share and the rows validated one by one matched as :meth:`line` does."""
        frame, one_by_one = validated
        if frame is None:
            return None, one_by_one
        frame, shared = book.match(frame)
        valid = [r for r in one_by_one if r["valid"]]
        index = book.index_for([r["normalised_number"] for r in valid] + shared["normalised_number"].to_list())
        for row in valid:
            self._match(row, index)
        if shared.height:  # numbers several policies share: the line's date picks the term
            picked = [index.match_fields(number, normalised, effective) for number, normalised, effective in
                      shared.select("policy_number", "normalised_number", "effective_date").iter_rows()]
            shared = shared.with_columns(pl.DataFrame(picked, schema=["match_status", "policy_id", "match_reason"],
                                                      orient="row", schema_overrides=dict.fromkeys(
                                                          ["match_status", "policy_id", "match_reason"], pl.String)))
            frame = pl.concat([frame, shared.select(frame.columns)])
        counts = self.counts
        counts.valid += frame.height
        for status, n in frame.group_by("match_status").len().iter_rows():
            setattr(counts, status, getattr(counts, status) + n)
        return frame, one_by_one


_EMPTY_VALID: dict[str, Any] = dict.fromkeys(LINE_FIELDS) | {"valid": True, "errors": None, "raw": None,
                                                               "excluded": False}
_LIMITS = {"policy_number": 100, "insured_name": 300, "transaction_type": 50, "line_of_business": 100,
           "producer_code": 100, "bill_type": 20}


def _fits(name: str, value: Any) -> Any:
    """Parsed values of an invalid row are kept only where they fit their column."""
    if isinstance(value, str) and len(value) > _LIMITS.get(name, 10**9):
        return None
    return value
