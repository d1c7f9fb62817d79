"""CSV exports neutralise formulas, not numbers: a negative amount stays a number a spreadsheet can sum."""

from __future__ import annotations

from decimal import Decimal

import pytest
from agency_common.tabular import csv_block, neutralise
from appointments.domain.rows import to_csv


@pytest.mark.parametrize("number", ["-120.00", "+1.5", "-1,234.56", "-0.5", "-.5", "1e3", "-2E-4", "-7"])
def test_plain_numbers_keep_their_sign(number: str) -> None:
    assert neutralise(number) == number


def test_typed_negative_amounts_stay_numbers() -> None:
    assert neutralise(Decimal("-120.00")) == "-120.00"
    assert neutralise(-3) == "-3"
    assert csv_block([["Commission", Decimal("-120.00")]]) == b"Commission,-120.00\r\n"


@pytest.mark.parametrize("formula", ["=1+2", "-1+1", "+1-1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "-", "+",
                                     "\t=1", "\r=1", "-A1", "--1", "-1,23", "-1.2.3", "-1e", "-e3"])
def test_formulas_and_lookalikes_are_neutralised(formula: str) -> None:
    assert neutralise(formula) == "'" + formula


def test_appointments_exports_use_the_same_rule() -> None:
    assert to_csv(["Amount", "Name"], [["-45.00", "=HYPERLINK(\"x\")"]]).splitlines() == [
        "Amount,Name", "-45.00,\"'=HYPERLINK(\"\"x\"\")\""]


def test_cells_a_spreadsheet_of_any_separator_would_split_are_quoted() -> None:
    """Issue 19 item 10: in a ";"-separated spreadsheet an unquoted ``a;=1+1`` is a formula."""
    assert csv_block([["a;=1+1", "tab\there", 'say "hi"', "plain", "-1.50"]]) == (
        b'"a;=1+1","tab\there","say ""hi""",plain,-1.50\r\n')
    assert csv_block([["=1+1;x"]]) == b"\"'=1+1;x\"\r\n"
    rows = [["line\nbreak", "x,y"], ["", None]]
    import csv
    import io
    assert list(csv.reader(io.StringIO(csv_block(rows).decode()))) == [["line\nbreak", "x,y"], ["", ""]]
    assert list(csv.reader(io.StringIO(csv_block([["a;=1+1"]]).decode()), delimiter=";")) == [["a;=1+1"]]
