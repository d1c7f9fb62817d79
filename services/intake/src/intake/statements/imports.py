"""Importing an uploaded carrier statement: the upload stored with its SHA-256 (a duplicate refused),
then a background worker that claims it under a lease, has the reading child process read and
validate it, matches each batch against the carrier's book and stores it (progress on the statement
row), and completes the import (``StatementImported``; published at once when every line matched).
The lines' bulk writes are in ``lines.py``, the book in ``book.py``, publishing in ``publishing.py``,
feeds in ``feeds.py``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from agency_common.contracts.intake import StatementImported
from agency_common.logging import get_logger
from agency_common.outbox import Transaction
from agency_common.tabular import Limits, TooLarge
from agency_common.timeutil import utcnow
from sqlalchemy import and_, delete, or_, select, update

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
LEASE = timedelta(seconds=60)  # an importer renews it every quarter; a gone one's runs out in a minute


class LeaseLost(Exception):
    """Another instance took this statement over (this one was presumed gone): stop, change nothing."""


def claimable(now: datetime) -> Any:
    """A statement an importer may take: queued, or processing under a lease that has run out."""
    return or_(STATEMENTS.c.status == "queued",
               and_(STATEMENTS.c.status == "processing",
                    or_(STATEMENTS.c.lease_until.is_(None), STATEMENTS.c.lease_until < now)))


def held_by(statement_id: str, owner: str) -> Any:
    return and_(STATEMENTS.c.id == statement_id, STATEMENTS.c.status == "processing",
                STATEMENTS.c.claimed_by == owner)


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
        self.wake = asyncio.Event()
        self.current: str | None = None
        self.owner: str = getattr(runtime, "instance_id", "") or f"intake-{uuid.uuid4().hex[:8]}"
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
        self.wake.set()
        return st

    # -- worker ---------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await asyncio.to_thread(start_fork_server)  # now, so that no import waits for it
        except Exception:  # each import tries again, and fails with the reason if it cannot
            log.exception("the statement reading server did not start")
        while True:
            try:
                # queued ones, and those a gone instance (its lease run out) left processing
                async with self.db.session() as s:
                    ids = list((await s.execute(select(Statement.id).where(claimable(utcnow()))
                                                .order_by(Statement.created_at))).scalars())
                for sid in ids:
                    await self.process(sid)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("statement worker failed; retrying")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 2.0)

    async def process(self, statement_id: str) -> None:
        self.current = statement_id
        try:
            await self._process(statement_id)
        except LeaseLost:
            log.warning("statement taken over by another instance", statement_id=statement_id, owner=self.owner)
        except Refused as exc:
            await self._fail(statement_id, str(exc))
        except asyncio.CancelledError:  # shutting down: hand it back, so the next start resumes it at once
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(statement_id))
            raise
        except Exception as exc:
            log.exception("statement import failed", statement_id=statement_id)
            await self._fail(statement_id, f"internal error while importing: {type(exc).__name__}: {exc}"[:2000])
        finally:
            self.current = None

    async def _fail(self, statement_id: str, error: str) -> None:
        """Failed, with its lines removed: only while this instance still holds it (a holder presumed
        gone must not undo the work of the one that took over)."""
        async with self.db.transaction() as s:
            marked = await s.execute(update(STATEMENTS).where(held_by(statement_id, self.owner)).values(
                status="failed", error=error, completed_at=utcnow(), claimed_by=None, lease_until=None))
            if marked.rowcount != 1:
                log.warning("statement not marked failed: another instance holds it", statement_id=statement_id)
                return
            await s.execute(delete(LINES).where(LINES.c.statement_id == statement_id))
        log.info("statement import refused", statement_id=statement_id, error=error)

    async def _release(self, statement_id: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(update(STATEMENTS).where(held_by(statement_id, self.owner)).values(lease_until=None))

    async def _renew(self, statement_id: str) -> None:
        """Keep the lease while the import runs; raise ``LeaseLost`` when it was taken over."""
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 4)
            try:
                async with self.db.transaction() as s:
                    renewed = await s.execute(update(STATEMENTS).where(held_by(statement_id, self.owner))
                                              .values(lease_until=utcnow() + LEASE))
            except Exception as exc:  # noqa: BLE001 - a busy database: try again at the next quarter
                log.warning("statement lease not renewed", statement_id=statement_id, error=str(exc))
                continue
            if renewed.rowcount != 1:
                raise LeaseLost(statement_id)

    async def _process(self, statement_id: str) -> None:
        renewing = asyncio.create_task(self._renew(statement_id))
        work = asyncio.create_task(self._import(statement_id))
        try:
            done, _ = await asyncio.wait({renewing, work}, return_when=asyncio.FIRST_COMPLETED)
            if renewing in done:  # the lease was lost: stop reading and writing at once
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                    await work
                renewing.result()
            await work
        finally:
            for task in (renewing, work):
                task.cancel()
            await asyncio.gather(renewing, work, return_exceptions=True)

    async def _import(self, statement_id: str) -> None:
        now = utcnow()
        async with self.db.transaction() as s:
            claimed = await s.execute(update(STATEMENTS).where(STATEMENTS.c.id == statement_id, claimable(now)).values(
                status="processing", rows_processed=0, error=None, claimed_by=self.owner, lease_until=now + LEASE))
            if claimed.rowcount != 1:
                return  # another instance holds it (or it is finished)
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
                    moved = await s.execute(update(STATEMENTS).where(held_by(statement_id, self.owner)).values(
                        rows_processed=batch.counts.total))
                    if moved.rowcount != 1:
                        raise LeaseLost(statement_id)
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
                                  auto_publish=self.runtime.settings.auto_publish_when_matched, owner=self.owner)


async def complete_import(tx: Transaction, statement_id: str, counts: dict[str, int],
                          auto_publish: bool = True, owner: str | None = None) -> None:
    """Imported, with the counts of the lines stored; an upload's import only by the instance that
    holds it (``owner``): counts the database does not hold are never reported."""
    now = utcnow()
    where = held_by(statement_id, owner) if owner is not None else STATEMENTS.c.id == statement_id
    done = await tx.session.execute(update(STATEMENTS).where(where).values(
        status="imported", completed_at=now, rows_processed=counts["total"], claimed_by=None, lease_until=None,
        **counts))
    if done.rowcount != 1:
        raise LeaseLost(statement_id)
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
