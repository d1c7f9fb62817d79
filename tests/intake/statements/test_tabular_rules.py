"""Reading statements from files, including hostile ones: encodings, delimiters, BOM, quoted
fields with newlines, header not on line 1, XLSX (first or named sheet), formulas, huge cells,
not-a-statement, empty files, zip bombs posing as XLSX."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from agency_common.tabular import (
    Limits,
    TabularError,
    TooLarge,
    csv_bytes,
    neutralise,
    open_table,
    unneutralise,
)
from intake.statements.domain.mapping import MappingProfile
from intake.statements.domain.reader import NotAStatement, StatementParser
from openpyxl import Workbook


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _parse(path: Path, sheet: str | None = None) -> tuple[StatementParser, list[dict]]:
    _info, rows = open_table(path, path.name, sheet=sheet)
    parser = StatementParser(MappingProfile())
    parser.find_header(rows)
    lines = []
    while batch := parser.batch("s", rows, 1000):
        lines += batch
    return parser, lines


TEXT = ("Carrier statement Oct\nPolicy #{d}Named Insured{d}Premium{d}Comm Amt\n"
        "A-1{d}\"Müller{d} Jörg\"{d}\"$1,000.50\"{d}100.05\n{d}{d}{d}\nA-2{d}Café Ltd{d}(20.00){d}-2.00\n")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_shapes(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = _write(tmp_path, "s.csv", TEXT.format(d=delimiter).replace("\n", "\r\n").encode(encoding))
    parser, lines = _parse(path)
    assert parser.header_line == 2
    assert [ln["line_no"] for ln in lines] == [3, 5]
    assert lines[0]["insured_name"] == " ".join(f"Müller{delimiter} Jörg".split())
    assert str(lines[0]["premium"]) == "1000.50" and str(lines[1]["premium"]) == "-20.00"
    assert (parser.counts.total, parser.counts.valid, parser.counts.blank) == (3, 2, 1)


def test_embedded_newlines_keep_line_numbers_of_the_file(tmp_path: Path) -> None:
    data = b'Policy #,Named Insured,Premium\r\nA-1,"two\r\nlines",1\r\nA-2,x,2\r\n'
    _, lines = _parse(_write(tmp_path, "s.csv", data))
    assert [ln["line_no"] for ln in lines] == [2, 4]


def test_formulas_are_data_and_exports_neutralise_them(tmp_path: Path) -> None:
    data = b'Policy #,Named Insured,Premium\r\nA-1,"=HYPERLINK(""http://evil"",""x"")",1\r\n=1+2,@SUM(A1),-3\r\n'
    _parser, lines = _parse(_write(tmp_path, "s.csv", data))
    assert lines[0]["valid"] and lines[0]["insured_name"].startswith("=HYPERLINK")
    assert not lines[1]["valid"]
    exported = b"".join(csv_bytes(["a"], [["=1+2"], ["-3"], ["@x"], ["+1"], ["ok"]])).decode("utf-8-sig")
    assert exported.splitlines() == ["a", "'=1+2", "-3", "'@x", "+1", "ok"]
    assert unneutralise(neutralise("-12.50")) == "-12.50"


def test_ten_thousand_character_cells_are_invalid_rows_not_crashes(tmp_path: Path) -> None:
    data = ("Policy #,Named Insured,Premium\r\nA-1," + "x" * 10_000 + ",1\r\nA-2,ok,2\r\n").encode()
    _parser, lines = _parse(_write(tmp_path, "s.csv", data))
    assert [ln["valid"] for ln in lines] == [False, True]
    assert "longer than 300" in lines[0]["errors"]


def test_a_cell_beyond_the_reader_limit_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.csv", b'Policy #,Premium\r\nA,"' + b"x" * 200 + b'"\r\n')
    _info, rows = open_table(path, limits=Limits(max_cell_chars=100))
    with pytest.raises(TabularError, match="line"):
        list(rows)


def test_wrong_encoding_never_crashes(tmp_path: Path) -> None:
    # bytes undefined in Windows-1252 fall back to Latin-1; UTF-16 with a BOM is read as such
    _, lines = _parse(_write(tmp_path, "s.csv", b"Policy #,Named Insured,Premium\r\nA-1,\x81\x8d\xff,1\r\n"))
    assert lines[0]["valid"]
    _, lines = _parse(_write(tmp_path, "u.csv", "Policy #\tNamed Insured\tPremium\r\nA-1\tZoë\t1\r\n".encode("utf-16")))
    assert lines[0]["insured_name"] == "Zoë"


def test_not_a_statement_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(NotAStatement):
        _parse(_write(tmp_path, "x.csv", b"name,age\nbob,4\n"))
    with pytest.raises(NotAStatement):
        _parse(_write(tmp_path, "x.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50))
    with pytest.raises(TabularError, match="empty"):
        open_table(_write(tmp_path, "e.csv", b""))
    with pytest.raises(NotAStatement):
        _parse(_write(tmp_path, "b.csv", b"\r\n\r\n,,\r\n"))


def test_xlsx_first_or_named_sheet(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Cover"
    ws.append(["nothing here"])
    data = wb.create_sheet("Detail")
    data.append(["Acme statement"])
    data.append(["Policy No", "Insured", "Premium", "Eff Date"])
    data.append(["P-1", "Ann", 1234.56, None])
    data.append([None, None, None, None])
    data.append(["P-2", "Bob", 10, "2026-01-31"])
    data.append(["P-3", "Cy", 0.1 + 0.2, None])  # binary noise of a computed cell
    buf = io.BytesIO()
    wb.save(buf)
    path = _write(tmp_path, "s.xlsx", buf.getvalue())
    with pytest.raises(NotAStatement):
        _parse(path)  # the first sheet is not a statement
    parser, lines = _parse(path, sheet="Detail")
    assert parser.header_line == 2
    assert [(ln["line_no"], str(ln["premium"])) for ln in lines] == [(3, "1234.56"), (5, "10"), (6, "0.3")]
    assert parser.counts.blank == 1
    with pytest.raises(TabularError, match="no sheet named"):
        _parse(path, sheet="Missing")


def test_zip_bomb_posing_as_xlsx_is_refused_before_parsing(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * 20_000_000)
    path = _write(tmp_path, "bomb.xlsx", buf.getvalue())
    assert path.stat().st_size < 100_000
    _info, rows = open_table(path)
    with pytest.raises(TooLarge):
        next(rows)
    _info, rows = open_table(path, limits=Limits(max_uncompressed_bytes=1_000_000, max_compression_ratio=10**9))
    with pytest.raises(TooLarge, match="expand"):
        next(rows)


def test_garbage_posing_as_xlsx(tmp_path: Path) -> None:
    _info, rows = open_table(_write(tmp_path, "x.xlsx", b"PK\x03\x04" + b"garbage" * 100))
    with pytest.raises(TabularError):
        next(rows)
