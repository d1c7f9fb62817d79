"""Reading and validating a statement file in a child process, so the service's own process (its
event loop and its GIL) is left to matching, writing and other requests.

The child reads the file, finds the header and validates it in batches (the columnar fast path
and the row path, exactly as in process: the same :class:`StatementParser`), and sends each batch
back over a pipe: the accepted rows as an Arrow IPC buffer (no Python object per row crosses),
the other rows as the row path's dicts, and its counts. It waits while the pipe is full, so at
most a batch or two are in flight. Children are forked from a fork server started once, which has
already imported this module (polars included), so each import's child starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any

import polars as pl
from agency_common.tabular import Limits, TabularError, open_table

from intake.statements.domain.mapping import MappingProfile
from intake.statements.domain.reader import Counts, NotAStatement, StatementParser

_CONTEXT = multiprocessing.get_context("forkserver")


def start_fork_server() -> None:
    """Start the fork server (once per process; at service start-up, so no import waits for it)."""
    # "__main__" as the default has it: a script that starts the service is imported once, by the
    # server, not again by every child
    _CONTEXT.set_forkserver_preload(["__main__", __name__])
    forkserver.ensure_running()


class Refused(Exception):
    """The file is not a statement this service can read (the message is for the operator)."""


@dataclass
class Header:
    cells: list[str]
    line: int
    detected: str  # kind, encoding, delimiter, sheet, header line: shown on the statement page


@dataclass
class Batch:
    frame: pl.DataFrame | None  # the rows the fast path accepted (not matched yet)
    one_by_one: list[dict[str, Any]] = field(default_factory=list)  # the others, validated by the row path
    counts: Counts = field(default_factory=Counts)  # the child's counts so far

    @property
    def last(self) -> bool:
        return self.frame is None


def _child(path: str, file_name: str, sheet: str | None, profile: MappingProfile, limits: Limits,
           statement_id: str, size: int, conn: Connection) -> None:
    rows: Any = None
    try:
        info, rows = open_table(path, file_name, sheet=sheet, limits=limits)
        parser = StatementParser(profile)
        parser.find_header(rows)
        detected = f"{info.kind}" + (f", {info.encoding}" if info.encoding else "") + (
            f", delimiter {info.delimiter!r}" if info.delimiter else "") + (
            f", sheet {info.sheet!r}" if info.sheet else "") + f", header on line {parser.header_line}"
        conn.send(("header", parser.header, parser.header_line, detected))
        while True:
            frame, one_by_one = parser.columnar_validate(statement_id, rows, size)
            ipc = None
            if frame is not None:
                buffer = io.BytesIO()
                frame.write_ipc(buffer, compression="uncompressed")
                ipc = buffer.getvalue()
            # the last batch also says how much CPU the reading took (logged; the benchmark adds it)
            conn.send(("batch", ipc, one_by_one, parser.counts, None if frame is not None else time.process_time()))
            if frame is None:
                break
    except (TabularError, NotAStatement) as exc:
        conn.send(("refused", str(exc)))
    except Exception as exc:  # noqa: BLE001 - anything else is reported to the parent, which fails the import
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        close = getattr(rows, "close", None)
        if close:
            with contextlib.suppress(Exception):
                close()
        conn.close()


class ParseProcess:
    """One statement's reading in a child process: :meth:`header` first, then :meth:`batch`
    until a batch is the last one; :meth:`close` always (it kills a child still running)."""

    def __init__(self, path: str, file_name: str, sheet: str | None, profile: MappingProfile, limits: Limits,
                 statement_id: str, size: int) -> None:
        self.cpu_seconds = 0.0  # the child's, once it has sent its last batch
        self._conn, send = _CONTEXT.Pipe(duplex=False)
        self._process = _CONTEXT.Process(target=_child, daemon=True, name=f"statement-{statement_id[:8]}",
                                         args=(path, file_name, sheet, profile, limits, statement_id, size, send))
        self._process.start()
        send.close()  # the child holds the other end: its exit is seen as the end of the pipe

    def _receive(self) -> tuple[Any, ...]:
        try:
            message = self._conn.recv()
        except EOFError:
            self._process.join(1)
            raise RuntimeError(f"the statement's reading process ended unexpectedly "
                               f"(exit code {self._process.exitcode})") from None
        if message[0] == "refused":
            raise Refused(message[1])
        if message[0] == "failed":
            raise RuntimeError(f"reading the statement failed: {message[1]}")
        if message[0] == "batch":
            frame = None if message[1] is None else pl.read_ipc(io.BytesIO(message[1]))
            if message[4] is not None:
                self.cpu_seconds = message[4]
            return ("batch", Batch(frame, message[2], message[3]))
        return message

    async def header(self) -> Header:
        _, cells, line, detected = await asyncio.to_thread(self._receive)
        return Header(cells, line, detected)

    async def batch(self) -> Batch:
        _, batch = await asyncio.to_thread(self._receive)
        return batch

    async def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        await asyncio.to_thread(self._process.join, 5)
        self._conn.close()
