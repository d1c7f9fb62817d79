"""The statement's reading process: it gives what the in-process parser gives (batches, counts,
every odd row kept), refuses a file that is not a statement with the reason, and never leaves a
process behind: a child that dies fails the read clearly, and close() ends a child still reading."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from agency_common.tabular import Limits, open_table
from intake.statements.domain.mapping import MappingProfile
from intake.statements.domain.reader import Counts, StatementParser
from intake.statements.parse_worker import ParseProcess, Refused, start_fork_server

SID = "0b7f6c1e-3a52-4a9e-9a43-2f1c4a2b9d10"


def _statement(path: Path, lines: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write("Carrier statement\r\n\r\n")
        w = csv.writer(f)
        w.writerow(["Policy #", "Named Insured", "Trans Type", "Eff Date", "Premium", "Comm Amt"])
        for n in range(lines):
            if n % 50 == 7:
                w.writerow([f"BAD {n}\n=cmd", "x" * 400, "ZZZ", "2026-02-30", "abc", ""])  # every kind of wrong
            elif n % 50 == 9:
                w.writerow(["", "", "", "", "", ""])  # blank
            else:
                w.writerow([f"AC-{n:07d}", f"Insured {n}", "NBS", "01/15/2026", f"${n:,}.25", "1.00"])
    return path


async def _read_all(reading: ParseProcess) -> tuple[list[str], list, list[dict], Counts]:
    header = await reading.header()
    frames, one_by_one = [], []
    while True:
        batch = await reading.batch()
        one_by_one += batch.one_by_one
        if batch.last:
            return header.cells, frames, one_by_one, batch.counts
        frames.append(batch.frame)


async def test_the_child_reads_what_the_process_itself_reads(tmp_path: Path) -> None:
    path = _statement(tmp_path / "s.csv", 2500)
    start_fork_server()
    reading = ParseProcess(str(path), "s.csv", None, MappingProfile(), Limits(), SID, 1000)
    try:
        header, frames, one_by_one, counts = await _read_all(reading)
    finally:
        await reading.close()
    parser = StatementParser(MappingProfile())
    _info, rows = open_table(path, "s.csv")
    parser.find_header(rows)
    want_frames, want_rows = [], []
    while (batch := parser.columnar_validate(SID, rows, 1000))[0] is not None:
        want_frames.append(batch[0])
        want_rows += batch[1]
    assert header == parser.header
    assert [f.to_dicts() for f in frames] == [f.to_dicts() for f in want_frames]
    assert one_by_one == want_rows and len(one_by_one) == 50 and all(not r["valid"] for r in one_by_one)
    assert counts == parser.counts and (counts.total, counts.blank, counts.invalid) == (2500, 50, 50)
    assert sum(f.height for f in frames) == 2400


async def test_a_file_that_is_not_a_statement_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("Shopping list\neggs,milk\n", encoding="utf-8")
    reading = ParseProcess(str(path), "notes.csv", None, MappingProfile(), Limits(), SID, 1000)
    try:
        with pytest.raises(Refused, match="not a statement"):
            await reading.header()
    finally:
        await reading.close()


async def test_a_child_that_dies_fails_the_read_clearly(tmp_path: Path) -> None:
    path = _statement(tmp_path / "s.csv", 50_000)
    reading = ParseProcess(str(path), "s.csv", None, MappingProfile(), Limits(), SID, 100)
    try:
        await reading.header()
        reading._process.kill()  # as the kernel's out-of-memory killer would
        with pytest.raises(RuntimeError, match="ended unexpectedly"):
            while not (await reading.batch()).last:
                pass
    finally:
        await reading.close()
    assert not reading._process.is_alive()


async def test_close_ends_a_child_still_reading(tmp_path: Path) -> None:
    path = _statement(tmp_path / "s.csv", 50_000)
    reading = ParseProcess(str(path), "s.csv", None, MappingProfile(), Limits(), SID, 100)
    await reading.header()
    await reading.batch()
    assert reading._process.is_alive()  # waiting for the parent to take the next batch
    await reading.close()
    assert not reading._process.is_alive() and reading._process.exitcode is not None

