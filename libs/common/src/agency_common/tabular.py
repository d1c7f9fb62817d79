"""Reading uploaded tables (CSV and spreadsheets) safely and in a streaming way, and writing CSV
exports that spreadsheets cannot turn into formulas. Mechanism only: which columns mean what is the
caller's business.

- CSV: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252 (bytes it leaves undefined
  fall back to Latin-1); comma, semicolon or tab, picked from the first lines; quoted fields and
  embedded newlines; each row is reported with the line it starts on.
- XLSX/XLSM/ODS/XLS: read with python-calamine (Rust; no XML entity expansion), first sheet or a
  named one. Zip containers are checked before parsing: total uncompressed size, entry count and
  compression ratio (zip bombs).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DELIMITERS = (",", ";", "\t", "|")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class TabularError(ValueError):
    """The input cannot be read as a table (with a message fit for the user)."""


class TooLarge(TabularError):
    pass


@dataclass(frozen=True)
class Limits:
    max_cell_chars: int = 100_000
    max_columns: int = 500
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_zip_entries: int = 10_000
    max_compression_ratio: int = 200


@dataclass
class TableInfo:
    kind: str  # csv | xlsx | xls | ods
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


Row = tuple[int, list[str]]  # (line or row number in the file, 1-based; cells as text)


# -- detection ----------------------------------------------------------------------------------
def sniff_kind(head: bytes, filename: str | None = None) -> str:
    name = (filename or "").lower()
    if head.startswith(ZIP_MAGIC):
        return "ods" if name.endswith(".ods") else "xlsx"
    if head.startswith(OLE_MAGIC):
        return "xls"
    return "csv"


def detect_encoding(stream: BinaryIO, chunk: int = 1 << 20) -> str:
    """``utf-8-sig`` when the whole stream decodes as UTF-8 (BOM or not), UTF-16 when it has that
    BOM, else ``cp1252`` (or ``latin-1`` when bytes undefined in cp1252 occur)."""
    try:
        stream.seek(0)
        head = stream.read(4)
        stream.seek(0)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        for encoding in ("utf-8", "cp1252"):
            stream.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while block := stream.read(chunk):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
                return "utf-8-sig" if encoding == "utf-8" else encoding
            except UnicodeDecodeError:
                continue
        return "latin-1"
    finally:
        stream.seek(0)


def detect_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most consistent number (>1) of columns."""
    lines = sample.splitlines()[:30]
    best, best_score = ",", -1.0
    for delim in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        counts = [c for c in counts if c > 1]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = counts.count(mode) * 1000 + mode
        if score > best_score:
            best, best_score = delim, score
    return best


# -- zip checks -----------------------------------------------------------------------------------
def check_zip(stream: BinaryIO, limits: Limits = Limits()) -> None:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TabularError(f"not a readable spreadsheet (bad zip container: {exc})") from None
    finally:
        stream.seek(0)
    if len(infos) > limits.max_zip_entries:
        raise TooLarge(f"spreadsheet has too many parts ({len(infos)})")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise TooLarge(
            f"spreadsheet would expand to {total} bytes, more than the limit of {limits.max_uncompressed_bytes}"
        )
    for info in infos:
        if info.file_size > 1_000_000 and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            raise TooLarge(f"spreadsheet part {info.filename!r} is compressed suspiciously well (zip bomb?)")


# -- reading --------------------------------------------------------------------------------------
def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if abs(value) < 1e15:
            # spreadsheets hold binary doubles: 0.1 + 0.2 is 0.30000000000000004; ten decimals
            # keep every value a person typed and drop the binary noise
            return format(value, ".10f").rstrip("0").rstrip(".")
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _check_row(cells: list[str], line: int, limits: Limits) -> list[str]:
    if len(cells) > limits.max_columns:
        raise TooLarge(f"line {line}: {len(cells)} columns, more than the limit of {limits.max_columns}")
    return cells


def read_csv_rows(stream: BinaryIO, info: TableInfo, limits: Limits = Limits()) -> Iterator[Row]:
    stream.seek(0)
    info.encoding = info.encoding or detect_encoding(stream)
    text = io.TextIOWrapper(stream, encoding=info.encoding, errors="replace", newline="")
    try:
        sample = text.read(64 * 1024)
        text.seek(0)
        info.delimiter = info.delimiter or detect_delimiter(sample)
        old_limit = csv.field_size_limit()
        csv.field_size_limit(limits.max_cell_chars)
        try:
            # strict: a quote left open is an error, never the rows after it merged into one cell
            reader = csv.reader(text, delimiter=info.delimiter, strict=True)
            previous_end = 0
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if "field larger than field limit" in str(exc):
                        raise TooLarge(f"line {previous_end + 1}: a value longer than {limits.max_cell_chars} "
                                       "characters (or a quote opened there and never closed)") from None
                    raise TabularError(_quote_error(previous_end + 1, reader.line_num, str(exc))) from None
                start = previous_end + 1
                previous_end = reader.line_num
                yield start, _check_row(cells, start, limits)
        finally:
            csv.field_size_limit(old_limit)
    finally:
        text.detach()


def _quote_error(start: int, at: int, error: str) -> str:
    if error.startswith("unexpected end of data") or at > start:
        return (f"line {start}: a quoted value opened on this line is not closed where it should be "
                f"(found at line {at}: {error}); the file was not read. Close the quote (or double a quote "
                "inside a value: \"\") and upload it again")
    return f"line {start}: {error} (a quote inside a value must be doubled: \"\"); the file was not read"


def read_sheet_rows(stream: BinaryIO, info: TableInfo, limits: Limits = Limits()) -> Iterator[Row]:
    from python_calamine import CalamineWorkbook

    if info.kind in ("xlsx", "ods"):
        check_zip(stream, limits)
    stream.seek(0)
    try:
        wb = CalamineWorkbook.from_filelike(stream)
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types for broken files
        raise TabularError(f"not a readable spreadsheet: {exc}") from None
    try:
        names = wb.sheet_names
        if not names:
            raise TabularError("the workbook has no sheets")
        if info.sheet:
            if info.sheet not in names:
                raise TabularError(f"no sheet named {info.sheet!r} (sheets: {', '.join(names)})")
            sheet = wb.get_sheet_by_name(info.sheet)
        else:
            info.sheet = names[0]
            sheet = wb.get_sheet_by_index(0)
        start = (sheet.start or (0, 0))[0] if hasattr(sheet, "start") else 0
        for offset, values in enumerate(sheet.iter_rows()):
            line = start + offset + 1
            cells = [cell_text(v) for v in values]
            for c in cells:
                if len(c) > limits.max_cell_chars:
                    raise TooLarge(f"row {line}: a cell longer than {limits.max_cell_chars} characters")
            yield line, _check_row(cells, line, limits)
    except TabularError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure inside the workbook is the file's fault
        raise TabularError(f"not a readable spreadsheet: {exc}") from None
    finally:
        close = getattr(wb, "close", None)
        if close:
            close()


def open_table(source: Path | str | bytes, filename: str | None = None, sheet: str | None = None,
               limits: Limits = Limits()) -> tuple[TableInfo, Iterator[Row]]:
    """Open a stored upload (a path, or the upload's bytes); returns what was detected and an
    iterator of rows (streaming)."""
    if isinstance(source, bytes):
        content = source
        if not content:
            raise TabularError("the file is empty")
        head, name = content[:8], filename or ""

        def opener() -> BinaryIO:
            return io.BytesIO(content)
    else:
        path = Path(source)
        if path.stat().st_size == 0:
            raise TabularError("the file is empty")
        with path.open("rb") as f:
            head = f.read(8)
        name = filename or path.name

        def opener() -> BinaryIO:
            return path.open("rb")
    info = TableInfo(kind=sniff_kind(head, name), sheet=sheet)

    def rows() -> Iterator[Row]:
        with opener() as stream:
            if info.kind == "csv":
                yield from read_csv_rows(stream, info, limits)
            else:
                yield from read_sheet_rows(stream, info, limits)

    return info, rows()


def is_blank(cells: Iterable[str]) -> bool:
    return all(not c.strip() for c in cells)


@dataclass
class Record:
    """A data row by its header's column names (values stripped). ``extra``: cells beyond the
    header's columns (or under a blank header) that hold something: the caller reports them,
    they are never dropped silently."""

    line: int
    values: dict[str, str]
    extra: list[str]

    @property
    def blank(self) -> bool:
        return not self.extra and is_blank(self.values.values())


@dataclass
class Records:
    info: TableInfo
    header: list[str]  # the column names (after ``name``), in file order; "" for a blank header cell
    header_line: int
    rows: Iterator[Record]


def open_records(source: Path | str | bytes, filename: str | None = None, *, sheet: str | None = None,
                 limits: Limits = Limits(), name: Callable[[str], str] = str.strip) -> Records:
    """A table whose first non-blank row is its header: rows as dicts by column name. ``name``
    turns a header cell into its column name (the caller's aliases). A column named twice is an
    error naming both (one of them would be lost), as is a file with no header row."""
    info, rows = open_table(source, filename, sheet=sheet, limits=limits)
    header_line, raw = 0, []
    for line, cells in rows:
        if not is_blank(cells):
            header_line, raw = line, cells
            break
    if not header_line:
        raise TabularError("the file has no header row (it is blank)")
    names = [name(h) if h.strip() else "" for h in raw]
    where: dict[str, int] = {}
    for i, n in enumerate(names):
        if not n:
            continue
        if n in where:
            first = where[n]
            raise TabularError(f"column {n!r} appears twice: column {first + 1} ({raw[first].strip()!r}) and "
                               f"column {i + 1} ({raw[i].strip()!r}); keep one")
        where[n] = i

    def records() -> Iterator[Record]:
        for line, cells in rows:
            values = {n: (cells[i].strip() if i < len(cells) else "") for i, n in enumerate(names) if n}
            extra = [c.strip() for i, c in enumerate(cells) if c.strip() and (i >= len(names) or not names[i])]
            yield Record(line, values, extra)

    return Records(info, names, header_line, records())


# -- writing --------------------------------------------------------------------------------------
# A plain number ("-120.00", "+1.5", "-1,234.56", "1e3") is what a spreadsheet reads as a number,
# never as a formula: it keeps its sign and stays a number. "-1+1" or "-2+cmd|..." is not one of them.
PLAIN_NUMBER = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> str:
    """A cell a spreadsheet will show as text, never run as a formula; numbers stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def unneutralise(value: str) -> str:
    """Undo :func:`neutralise` on re-import (a leading ``'`` before a formula character)."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def csv_bytes(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[bytes]:
    """A CSV export (UTF-8 with BOM so spreadsheets pick the encoding), streamed in blocks. Give it to a
    ``StreamingResponse`` as it is: Starlette draws a plain iterator in a worker thread, off the loop."""
    yield codecs.BOM_UTF8 + csv_block([header])
    block: list[Iterable[Any]] = []
    for row in rows:
        block.append(row)
        if len(block) == 1000:
            yield csv_block(block)
            block = []
    if block:
        yield csv_block(block)


async def csv_bytes_paged(header: list[str], pages: AsyncIterable[Iterable[Iterable[Any]]]) -> AsyncIterator[bytes]:
    """The same export from pages of rows read while it streams: a large result never sits in memory.
    Each page is turned into CSV in a worker thread, and so is a page given as a lazy generator (rows
    decrypted or built as they are read): a 100,000-row export never holds the event loop, so the
    service keeps answering while it streams (issue 19 item 10)."""
    yield codecs.BOM_UTF8 + csv_block([header])
    async for page in pages:
        yield await asyncio.to_thread(csv_block, page)


# Quoted when it holds any of these: the comma and line breaks of CSV, and the ";" and tab a spreadsheet
# in another locale splits on ("a;=1+1" unquoted is a formula there).
MUST_QUOTE = re.compile(r'[,;"\t\r\n]')


def csv_cell(value: Any) -> str:
    text = neutralise(value)
    return '"' + text.replace('"', '""') + '"' if MUST_QUOTE.search(text) else text


def csv_block(rows: Iterable[Iterable[Any]]) -> bytes:
    """Rows as CSV text (RFC 4180), every cell neutralised against spreadsheet formulas and quoted
    where a spreadsheet of any list separator would split it."""
    return "".join(",".join(csv_cell(c) for c in row) + "\r\n" for row in rows).encode()
