"""The columnar fast path of an import gives, line for line, exactly what the row path gives
(validate_cells + PolicyIndex): the same values, reasons, matches and counts, for common
spellings, odd ones, hostile cells and every kind of invalid row. And it does take the common
spellings itself (else an import would silently fall back to the slow path)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from intake.statements.domain.columnar import Book, validate_rows
from intake.statements.domain.mapping import MappingProfile
from intake.statements.domain.matching import PolicyIndex
from intake.statements.domain.reader import StatementParser

HEADER = ["Policy #", "Named Insured", "Trans Type", "Eff Date", "Exp Date", "LOB", "Premium", "Comm %", "Comm Amt",
          "Producer Code"]
BOOK = [("p1", "AC-0000001"), ("p2", "ac 0000002"), ("p3", "AC0000003"), ("p4", "AC-0000003"),  # p3/p4 share
        ("p5", "ACM-77"), ("p6", "Ünï-9"), ("p7", "'=CMD-1"), ("p8", "X.Y/Z_1")]
TERMS = {"p3": (date(2025, 1, 1), date(2026, 1, 1)), "p4": (date(2026, 1, 1), date(2027, 1, 1))}

NUMBERS = ["AC-0000001", "ac-0000001", " AC 0000002 ", "AC0000003", "acm77", "ACM-77", "ACM", "NEW-1", "x y z 1",
           "Ünï-9", "UNI9", "=CMD-1", "'=CMD-1", "", "  ", "A\tB", "AB  C", "-AB", "A" * 101, "AC-0000001\n"]
NAMES = ["Insured 1, Jr.", "  Jane   Doe ", "Café Ltd", "'@SUM(A1)", "=HYPERLINK(\"x\")", "", "N" * 301, "Line\nBreak",
         "Tab\tName", "Ok Name"]
TYPES = ["NBS", "rwl", " PCH ", "XLC", "AUD", "INS", "", "ZZZ", "new business", "Ünknown"]
DATES = ["01/15/2026", "1/5/2026", "2026-01-15", "2026-02-30", "20260115", "15-Jan-2026", "Jan 15, 2026", "",
         "13/01/2026", "0000-01-01", "2026-1-5", "31.01.2026", "01/15/26", "yesterday", "2025-06-01", "2027-01-15"]
AMOUNTS = ["$1,234.56", "(1,234.56)", "($5.00)", "-12.50", "12.5", "1234", "", "  ", "123.45-", "$ 0.10", "-$5.00",
           "'-12.50", "1,23.00", "1.234", "12,345,678,901,234.00", "9" * 16, "(-5)", "()", "abc", "1e3", "١٢٣",
           "0", "-0", "$0.01"]
RATES = ["15%", "12.5%", "0.15", "15", "1", "1.0", "100%", "100.5%", "150", "-5%", "15 %", "0.1234567", "",
         "12.34567%", ".5", "1e-2", "abc", "0%"]
PRODUCERS = ["P1", "", "P" * 101, "p 2"]


def _row(rng: random.Random) -> list[str]:
    return [rng.choice(NUMBERS), rng.choice(NAMES), rng.choice(TYPES), rng.choice(DATES), rng.choice(DATES),
            rng.choice(["AUTOP", "", "Home Owners"]), rng.choice(AMOUNTS), rng.choice(RATES), rng.choice(AMOUNTS),
            rng.choice(PRODUCERS)]


def _both(rows: list[list[str]], profile: MappingProfile) -> tuple[StatementParser, list[dict[str, Any]],
                                                                     StatementParser, list[dict[str, Any]]]:
    numbered = [(n + 2, cells) for n, cells in enumerate(rows)]
    index = PolicyIndex(profile, [(pid, number, *TERMS.get(pid, (None, None))) for pid, number in BOOK])
    by_rows = StatementParser(profile, index)
    by_rows.use_header(HEADER)
    expected = by_rows.batch("s", iter(numbered), len(numbered) + 1)
    book = Book(profile, [pid for pid, _ in BOOK], [number for _, number in BOOK])
    book.set_terms({pid: TERMS[pid] for pid in book.shared_ids() if pid in TERMS})
    by_columns = StatementParser(profile)
    by_columns.use_header(HEADER)
    got: list[dict[str, Any]] = []
    it = iter(numbered)
    while True:
        frame, one_by_one = by_columns.columnar_batch("s", it, 97, book)
        if frame is None and not one_by_one:
            break
        got += one_by_one + ([] if frame is None else _as_rows(frame))
    return by_rows, expected, by_columns, sorted(got, key=lambda r: r["line_no"])


def _as_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as the row path's dicts (cents and millionths back to Decimal)."""
    out = []
    for r in frame.iter_rows(named=True):
        for name, scale in (("premium", 2), ("commission_amount", 2), ("commission_rate", 6)):
            if r[name] is not None:
                r[name] = Decimal(r[name]).scaleb(-scale)
        r.update(statement_id="s", valid=True, errors=None, raw=None, excluded=False)
        out.append(r)
    return out


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    """Money as the columns keep it (cents; rates to millionths)."""
    out = dict(row)
    for name, scale in (("premium", 2), ("commission_amount", 2), ("commission_rate", 6)):
        if out.get(name) is not None:
            out[name] = int(out[name].scaleb(scale))
    return out


@pytest.mark.parametrize("prefixes", [(), ("ACM", "AC")])
def test_the_fast_path_agrees_with_the_row_path_line_for_line(prefixes: tuple[str, ...]) -> None:
    rng = random.Random(20261129)
    rows = [_row(rng) for _ in range(3000)]
    rows += [[], ["AC-0000001"], ["AC-0000001", "Short Row", "NBS"], [*_row(rng), "extra", "cells"]]
    profile = MappingProfile(prefixes=prefixes)
    by_rows, expected, by_columns, got = _both(rows, profile)
    assert by_columns.counts == by_rows.counts
    assert [r["line_no"] for r in got] == [r["line_no"] for r in expected]
    for want, have in zip(expected, got, strict=True):
        assert _comparable(have) == _comparable(want), (want["line_no"], rows[want["line_no"] - 2])
    # every kind of outcome was exercised
    statuses = {r["match_status"] for r in expected if r["valid"]}
    assert statuses == {"matched", "unmatched", "ambiguous"} and by_rows.counts.invalid > 100


def test_common_spellings_take_the_fast_path() -> None:
    rows = [(n + 2, [f"AC-{n:07d}", f"Insured {n}, Jr.", ["NBS", "RWL", "PCH", "XLC"][n % 4], "01/15/2026",
                     "2027-01-15", "AUTOP", f"${n:,}.{n % 100:02d}" if n % 3 else f"({n}.50)", ["15%", "0.125", "10"][n % 3],
                     f"{n / 10:.2f}", f"P{n % 7}"]) for n in range(2000)]
    parser = StatementParser(MappingProfile())
    parser.use_header(HEADER)
    frame, rejected = validate_rows(rows, parser.columns, parser.profile)
    assert rejected == [] and frame.height == 2000
    row = {r["line_no"] - 2: r for r in frame.iter_rows(named=True)}
    assert (row[3]["premium"], row[3]["commission_rate"]) == (-350, 150_000)  # (3.50), 15%
    assert (row[4]["premium"], row[4]["commission_rate"]) == (404, 125_000)  # $4.04, 0.125
    assert (row[5]["premium"], row[5]["commission_rate"]) == (505, 100_000)  # $5.05, 10 (a percentage)
    assert (row[1234]["premium"], row[1234]["commission_amount"]) == (123_434, 12_340)  # $1,234.34, 123.40
    assert row[6]["effective_date"] == date(2026, 1, 15) and row[6]["bill_type"] == "endorsement"  # PCH


def test_a_line_whose_number_several_policies_share_is_picked_by_its_date() -> None:
    rows = [["AC-0000003", "A", "NBS", "2025-06-01", "", "", "1.00", "", "", ""],
            ["AC-0000003", "B", "NBS", "2026-06-01", "", "", "1.00", "", "", ""],
            ["AC-0000003", "C", "NBS", "", "", "", "1.00", "", "", ""]]
    _, expected, by_columns, got = _both(rows, MappingProfile())
    assert [(r["match_status"], r["policy_id"]) for r in got] == [("matched", "p3"), ("matched", "p4"),
                                                                   ("ambiguous", None)]
    assert got == expected or [_comparable(r) for r in got] == [_comparable(r) for r in expected]
    assert by_columns.counts.matched == 2 and by_columns.counts.ambiguous == 1
