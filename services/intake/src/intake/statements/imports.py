"""Importing an uploaded carrier statement: the upload stored with its SHA-256 (a duplicate refused),
then its import, a job of the service's job runner (``agency_common.jobs``: under a lease, one owner
among the replicas), which has the reading child process read and validate it, matches each batch
against the carrier's book and stores it (progress on the statement row), and completes the import
(``StatementImported``; published at once when every line matched). The statements' own
``claimed_by`` / ``lease_until`` columns are no longer used (the runner's lease is in ``leases``).
The lines' bulk writes are in ``lines.py``, the book in ``book.py``, publishing in ``publishing.py``,
feeds in ``feeds.py``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from agency_common.contracts.intake import StatementImported
from agency_common.leases import LeaseLost
from agency_common.logging import get_logger
from agency_common.outbox import Transaction
from agency_common.tabular import Limits, TooLarge
from agency_common.timeutil import utcnow
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intake.carriers.registry import require_carrier
from intake.errors import Conflict, UseCaseError
from intake.models import Statement, StatementLineRow
from intake.statements.book import load_book
from intake.statements.domain.reader import StatementParser
from intake.statements.lines import prepare_lines, store_lines, store_prepared
from intake.statements.parse_worker import Batch, Header, ParseProcess, Refused, start_fork_server
from intake.statements.publishing import may_publish_on_its_own, publish_statement
from intake.statements.queries import load_profile
from intake.web import STATEMENT_IMPORTS, app_object

log = get_logger(__name__)
LINES = StatementLineRow.__table__
STATEMENTS = Statement.__table__
IMPORT_BATCH = 10_000
RUNNER = "statement-imports"
UNFINISHED = ("queued", "processing")  # an upload's statuses while its import is the runner's job
# Inside one of the import's write transactions: does this instance still hold the statement's lease?
Holds = Callable[[AsyncSession], Awaitable[bool]]


def _reason(exc: Exception) -> str:
    if isinstance(exc, Refused):
        return str(exc)
    return f"internal error while importing: {type(exc).__name__}: {exc}"[:2000]


class DuplicateStatement(Conflict):
    def __init__(self, first: Statement) -> None:
        super().__init__(
            f"this file was already imported for {first.carrier} on {first.created_at:%Y-%m-%d %H:%M} UTC "
            f"by {first.imported_by} (statement {first.id}); re-import it explicitly with override")
        self.first_id = first.id


class StatementImports:
    """Stores uploads and runs imports in the background, one at a time per process."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.dir = Path(runtime.settings.data_dir) / runtime.name / "statements"
        self.max_bytes = runtime.settings.max_upload_bytes
        self.limits = Limits()
        # each upload is a job of the service's one job runner: under a lease (one importer among the
        # replicas, taken over once its holder is gone), one import at a time in this process,
        # resumed after a restart; a failing import is marked failed by ``_fail`` (its lines removed)
        self.runner = runtime.job_runner(RUNNER, STATEMENTS, self._import, one_at_a_time=True, unfinished=UNFINISHED,
                                         describe=_reason, expected=(Refused,), mark_failed=self._fail)
        runtime.background(self.start_reading_server)
        self.last_reading_cpu_seconds = 0.0  # CPU of the last import's reading process (not in this one's)

    # -- upload ---------------------------------------------------------------------------------
    async def store_upload(self, stream: BinaryIO | AsyncIterator[bytes], file_name: str, carrier: str, actor: str,
                           *, sheet: str | None = None, override: bool = False) -> Statement:
        async with self.runtime.db.session() as s:  # before reading the file: an unknown carrier is refused at once
            carrier = (await require_carrier(s, carrier)).name
        file_name = os.path.basename(file_name or "statement")[:300] or "statement"
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f"upload-{uuid.uuid4()}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with tmp.open("wb") as out:
                while True:
                    if hasattr(stream, "read"):
                        block = stream.read(1 << 20)
                        if asyncio.iscoroutine(block):
                            block = await block
                    else:
                        block = await anext(stream, b"")  # type: ignore[arg-type]
                    if not block:
                        break
                    size += len(block)
                    if size > self.max_bytes:
                        raise TooLarge(f"the file is larger than the limit of {self.max_bytes} bytes")
                    digest.update(block)
                    out.write(block)
            if size == 0:
                raise UseCaseError("the file is empty")
            sha = digest.hexdigest()
            async with self.runtime.uow(actor=actor) as tx:
                first = (await tx.session.execute(
                    select(Statement).where(Statement.carrier == carrier, Statement.sha256 == sha,
                                            Statement.status != "failed").order_by(Statement.created_at).limit(1)
                )).scalar_one_or_none()
                if first is not None and not override:
                    raise DuplicateStatement(first)
                st = Statement(carrier=carrier, source="upload", file_name=file_name, sha256=sha, size_bytes=size,
                               sheet=(sheet or "").strip() or None, duplicate_of=first.id if first else None,
                               status="queued", imported_by=actor)
                suffix = Path(file_name).suffix.lower()[:10] if Path(file_name).suffix else ""
                final = self.dir / f"{st.id}{suffix}"
                st.stored_path = str(final)
                tx.session.add(st)
                await tx.session.flush()
                os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self.runner.launch(st.id)  # in the request's context: the import carries the upload's correlation id
        return st

    # -- the import, a job of the runner ----------------------------------------------------------------
    async def start_reading_server(self) -> None:
        try:
            await asyncio.to_thread(start_fork_server)  # now, so that no import waits for it
        except Exception:  # each import tries again, and fails with the reason if it cannot
            log.exception("the statement reading server did not start")

    async def process(self, statement_id: str) -> None:
        """Import the statement now (through the runner: under its lease) and wait for the end."""
        await self.runner.launch(statement_id)

    def holds(self, statement_id: str) -> Holds:
        return lambda session: self.runner.holds(session, statement_id)

    def _lost(self, statement_id: str) -> LeaseLost:
        return LeaseLost(self.runner.lease_name(statement_id))

    async def _fail(self, statement_id: str, error: str) -> bool:
        """Failed, with its lines removed: only while this instance still holds it (a holder presumed
        gone must not undo the work of the one that took over)."""
        async with self.db.transaction() as s:
            if not await self.runner.holds(s, statement_id):
                log.warning("statement not marked failed: another instance holds it", statement_id=statement_id)
                return False
            marked = await s.execute(update(STATEMENTS).where(
                STATEMENTS.c.id == statement_id, STATEMENTS.c.status.in_(UNFINISHED)).values(
                status="failed", error=error, completed_at=utcnow()))
            if marked.rowcount != 1:
                return False
            await s.execute(delete(LINES).where(LINES.c.statement_id == statement_id))
        log.info("statement import refused", statement_id=statement_id, error=error)
        return True

    async def _import(self, statement_id: str) -> None:
        # the runner took the lease: a statement still processing was left by a gone holder, read afresh
        async with self.db.transaction() as s:
            if not await self.runner.holds(s, statement_id):
                raise self._lost(statement_id)
            claimed = await s.execute(update(STATEMENTS).where(
                STATEMENTS.c.id == statement_id, STATEMENTS.c.status.in_(UNFINISHED)).values(
                status="processing", rows_processed=0, error=None))
            if claimed.rowcount != 1:
                return  # finished meanwhile
            await s.execute(delete(LINES).where(LINES.c.statement_id == statement_id))
        async with self.db.session() as s:
            st = await s.get(Statement, statement_id)
            assert st is not None
            profile = await load_profile(s, st.carrier)
        # the file is read and validated in a child process while this one loads the carrier's
        # book, then matches and writes each batch while the child reads the next
        await asyncio.to_thread(start_fork_server)
        # started off the loop: a fork server still importing (just after start-up) would hold it
        reading = await asyncio.to_thread(ParseProcess, st.stored_path or "", st.file_name, st.sheet or profile.sheet,
                                          profile, self.limits, statement_id, IMPORT_BATCH)
        pending: asyncio.Future[Any] | None = None
        try:
            async def header_and_first_batch() -> tuple[Header, Batch]:
                return await reading.header(), await reading.batch()

            pending = asyncio.ensure_future(header_and_first_batch())  # received while the book loads
            async with self.db.session() as s:  # a read: writers are not held up while the book loads
                book = await load_book(s, st.carrier, profile)
            header, batch = await pending
            async with self.db.transaction() as s:
                await s.execute(update(STATEMENTS).where(STATEMENTS.c.id == statement_id).values(
                    detected=header.detected[:200], header=json.dumps(header.cells, ensure_ascii=False)))
            matcher = StatementParser(profile)  # counts what it matches; the child counted the rest
            matcher.use_header(header.cells)
            dialect = self.db.dialect
            while True:
                if not batch.last:
                    pending = asyncio.ensure_future(reading.batch())
                frame, one_by_one = matcher.columnar_match((batch.frame, batch.one_by_one), book)
                async with self.db.transaction() as s:
                    if not await self.runner.holds(s, statement_id):
                        raise self._lost(statement_id)  # stop writing at once: another instance imports it
                    await s.execute(update(STATEMENTS).where(STATEMENTS.c.id == statement_id).values(
                        rows_processed=batch.counts.total))
                    await store_prepared(s, prepare_lines(dialect, statement_id, frame))
                    await store_lines(s, one_by_one)
                if batch.last:
                    break
                batch = await pending
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
            await reading.close()
        self.last_reading_cpu_seconds = reading.cpu_seconds
        counts = matcher.counts.plus(batch.counts)
        log.info("statement read", statement_id=statement_id, reading_cpu_seconds=round(reading.cpu_seconds, 3))
        async with self.runtime.uow(actor=st.imported_by) as tx:
            await complete_import(tx, statement_id, counts.as_dict(),
                                  auto_publish=self.runtime.settings.auto_publish_when_matched,
                                  holds=self.holds(statement_id))


async def complete_import(tx: Transaction, statement_id: str, counts: dict[str, int],
                          auto_publish: bool = True, holds: Holds | None = None) -> None:
    """Imported, with the counts of the lines stored; an upload's import only while this instance
    holds its lease (``holds``): counts the database does not hold are never reported."""
    now = utcnow()
    where = [STATEMENTS.c.id == statement_id]
    if holds is not None:
        if not await holds(tx.session):
            raise LeaseLost(f"{RUNNER}:{statement_id}")
        where.append(STATEMENTS.c.status == "processing")
    done = await tx.session.execute(update(STATEMENTS).where(*where).values(
        status="imported", completed_at=now, rows_processed=counts["total"], **counts))
    if done.rowcount != 1:
        raise LeaseLost(f"{RUNNER}:{statement_id}")
    st = await tx.session.get(Statement, statement_id)
    assert st is not None
    await tx.session.refresh(st)
    await tx.emit(StatementImported(
        statement_id=st.id, carrier=st.carrier, file_name=st.file_name, imported_by=st.imported_by,
        imported_at=now, total_rows=st.total, valid_rows=st.valid, invalid_rows=st.invalid, blank_rows=st.blank))
    log.info("statement imported", statement_id=st.id, **counts)
    if auto_publish and may_publish_on_its_own(st) and st.valid and not (st.unmatched + st.ambiguous):
        await publish_statement(tx, st.id, exclude_unmatched=False)


# The app's statement importer, as a route dependency
Imports = Annotated[StatementImports, app_object(STATEMENT_IMPORTS)]
