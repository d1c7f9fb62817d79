"""Importing carrier statements: uploads stored with their SHA-256, parsed, validated, stored and
matched by a background worker in chunks (progress on the statement row); feeds arriving as events;
re-matching; publishing a statement to invoicing in chunks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import polars as pl
from agency_common.contracts.intake import (
    StatementImported,
    StatementLine,
    StatementLinesPublished,
    StatementPublished,
)
from agency_common.logging import get_logger
from agency_common.outbox import Transaction
from agency_common.tabular import Limits, TooLarge
from agency_common.timeutil import utcnow
from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

from intake.carriers.registry import UnknownCarrier, carrier_names, find_carrier, require_carrier
from intake.carriers.rules import closest, tidy_name
from intake.chunking import CHUNK
from intake.errors import Conflict, NotFound, UseCaseError
from intake.models import Policy, PolicyTerm, Statement, StatementLineRow
from intake.statements.domain.columnar import FRAME_COLUMNS, Book
from intake.statements.domain.mapping import MappingProfile
from intake.statements.domain.reader import NotAStatement, StatementParser
from intake.statements.parse_worker import Batch, Header, ParseProcess, Refused, start_fork_server
from intake.statements.queries import load_profile
from intake.statements.usecases import refresh_match_counts
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
PUBLISH_CHUNK = 500


LINE_COLUMNS = ("statement_id", "line_no", "valid", "errors", "raw", "policy_number", "normalised_number",
                "insured_name", "transaction_type", "bill_type", "effective_date", "expiration_date",
                "line_of_business", "premium", "commission_rate", "commission_amount", "producer_code",
                "match_status", "match_reason", "policy_id", "excluded")
_SQLITE_INSERT = (f"INSERT INTO statement_lines ({', '.join(LINE_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in LINE_COLUMNS)})")
_HUNDRED, _MILLION = Decimal(100), Decimal(1_000_000)


async def store_lines(session: Any, rows: list[dict[str, Any]]) -> None:
    """The bulk path for statement lines: the driver's executemany on SQLite, COPY on PostgreSQL
    (values converted here exactly as the column types would: cents and micro-units on SQLite)."""
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        def cents(v: Decimal | None) -> int | None:
            return None if v is None else int(v * _HUNDRED)

        params = [(
            r["statement_id"], r["line_no"], 1 if r["valid"] else 0, r["errors"], r["raw"], r["policy_number"],
            r["normalised_number"], r["insured_name"], r["transaction_type"], r["bill_type"],
            r["effective_date"].isoformat() if r["effective_date"] else None,
            r["expiration_date"].isoformat() if r["expiration_date"] else None,
            r["line_of_business"], cents(r["premium"]),
            None if r["commission_rate"] is None else int(r["commission_rate"] * _MILLION),
            cents(r["commission_amount"]), r["producer_code"], r["match_status"], r["match_reason"], r["policy_id"],
            1 if r["excluded"] else 0) for r in rows]
        await conn.exec_driver_sql(_SQLITE_INSERT, params)
    elif dialect == "postgresql":
        raw = await conn.get_raw_connection()
        records = [tuple(r[c] for c in LINE_COLUMNS) for r in rows]
        await raw.driver_connection.copy_records_to_table("statement_lines", records=records, columns=list(LINE_COLUMNS))
    else:
        await session.execute(insert(LINES), rows)


def _cents_text(c: pl.Expr, scale: int) -> pl.Expr:
    """A scaled integer as the NUMERIC text PostgreSQL reads (exact: integer arithmetic)."""
    unit = 10 ** scale
    return pl.when(c.is_null()).then(None).otherwise(pl.format(
        "{}{}.{}", pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit("")), c.abs() // unit,
        (c.abs() % unit).cast(pl.String).str.zfill(scale)))


@dataclass
class PreparedLines:
    """A batch of the fast path's valid lines made ready for the database: executemany statements
    on SQLite, COPY's CSV on PostgreSQL."""

    statements: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list)
    csv: bytes = b""


ROWS_PER_INSERT = 50  # SQLite: one INSERT of 50 rows costs a fifth less than 50 of one row


def prepare_lines(dialect: str, statement_id: str, frame: pl.DataFrame | None) -> PreparedLines | None:
    """Amounts are in cents and rates in millionths in the frame: on SQLite that is what the Money
    and Rate columns store; PostgreSQL gets their exact NUMERIC text."""
    if frame is None or not frame.height:
        return None
    if dialect == "postgresql":
        constants = {"statement_id": statement_id, "valid": True, "errors": None, "raw": None, "excluded": False}
        out = frame.with_columns(premium=_cents_text(pl.col("premium"), 2),
                                 commission_amount=_cents_text(pl.col("commission_amount"), 2),
                                 commission_rate=_cents_text(pl.col("commission_rate"), 6))
        out = out.with_columns(**{k: pl.lit(v, dtype=pl.Boolean if isinstance(v, bool) else pl.String)
                                  for k, v in constants.items()}).select(LINE_COLUMNS)
        return PreparedLines(csv=out.write_csv(include_header=False).encode())
    if dialect != "sqlite":
        raise NotImplementedError(f"statement lines are not stored on {dialect}")
    # the values every line of the batch shares are written into the statement, not bound per
    # row (binding is most of executemany's cost); the statement id is checked to be a UUID
    one = f"('{uuid.UUID(statement_id)}', 1, 0, {', '.join('?' for _ in FRAME_COLUMNS)})"
    insert_into = f"INSERT INTO statement_lines (statement_id, valid, excluded, {', '.join(FRAME_COLUMNS)}) VALUES "
    values = [frame[name].cast(pl.String).to_list() if name in ("effective_date", "expiration_date")
              else frame[name].to_list() for name in FRAME_COLUMNS]
    rows = list(zip(*values, strict=True))
    whole = len(rows) - len(rows) % ROWS_PER_INSERT
    statements = [(insert_into + ", ".join([one] * ROWS_PER_INSERT),
                   [tuple(itertools.chain.from_iterable(rows[i:i + ROWS_PER_INSERT]))
                    for i in range(0, whole, ROWS_PER_INSERT)])] if whole else []
    if whole < len(rows):
        statements.append((insert_into + one, rows[whole:]))
    return PreparedLines(statements=statements)


async def store_prepared(session: Any, prepared: PreparedLines | None) -> None:
    if prepared is None:
        return
    conn = await session.connection()
    if prepared.csv:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_to_table("statement_lines", source=io.BytesIO(prepared.csv),
                                                  columns=list(LINE_COLUMNS), format="csv")
    for sql, params in prepared.statements:
        await conn.exec_driver_sql(sql, params)


class DuplicateStatement(Conflict):
    def __init__(self, first: Statement) -> None:
        super().__init__(
            f"this file was already imported for {first.carrier} on {first.created_at:%Y-%m-%d %H:%M} UTC "
            f"by {first.imported_by} (statement {first.id}); re-import it explicitly with override")
        self.first_id = first.id


def statement_json(s: Statement) -> dict[str, Any]:
    return {
        "id": s.id, "carrier": s.carrier, "source": s.source, "file_name": s.file_name, "sha256": s.sha256,
        "size_bytes": s.size_bytes, "status": s.status, "error": s.error, "detected": s.detected,
        "duplicate_of": s.duplicate_of, "publishes_on_its_own": may_publish_on_its_own(s),
        "rows_processed": s.rows_processed,
        "counts": {"total": s.total, "valid": s.valid, "invalid": s.invalid, "blank": s.blank,
                   "matched": s.matched, "unmatched": s.unmatched, "ambiguous": s.ambiguous,
                   "excluded": s.excluded},
        "total": s.total, "valid": s.valid, "invalid": s.invalid, "blank": s.blank, "matched": s.matched,
        "unmatched": s.unmatched, "ambiguous": s.ambiguous,
        "imported_by": s.imported_by, "created_at": s.created_at.isoformat(),
        "completed_at": s.completed_at.isoformat() if s.completed_at else None,
        "published_by": s.published_by, "published_at": s.published_at.isoformat() if s.published_at else None,
    }


async def load_book(session: Any, carrier: str, profile: MappingProfile) -> Book:
    """The carrier's policies for matching (numbers only; the terms of the few policies that share
    a normalised number, which a line's date tells apart)."""
    p = Policy.__table__.c
    conn = await session.connection()
    # the driver's own rows (plain tuples): the whole book is read, a row object each would cost a third more
    driver = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "sqlite":
        cursor = await driver.execute("SELECT id, policy_number FROM policies WHERE carrier = ?", (carrier,))
        rows = await cursor.fetchall()
        await cursor.close()
    elif conn.dialect.name == "postgresql":
        rows = await driver.fetch("SELECT id, policy_number FROM policies WHERE carrier = $1", carrier)
    else:
        rows = (await conn.execute(select(p.id, p.policy_number).where(p.carrier == carrier))).all()
    ids, numbers = zip(*rows, strict=True) if rows else ((), ())
    del rows
    book = Book(profile, ids, numbers)
    shared, spans = book.shared_ids(), {}
    pt = PolicyTerm.__table__.c
    for i in range(0, len(shared), 500):
        found = await session.execute(select(pt.policy_id, pt.effective_date, pt.expiration_date).where(
            pt.policy_id.in_(shared[i:i + 500])))
        for pid, start, stop in found.all():
            spans.setdefault(pid, []).append((start, stop))
    book.set_terms({pid: policy_span(terms) for pid, terms in spans.items()})
    return book


def policy_span(terms: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """From its first term's start to its last term's end (a missing date leaves that side open),
    so a line dated in any of a policy's terms is covered by it."""
    starts, ends = [t[0] for t in terms], [t[1] for t in terms]
    return (None if None in starts else min(starts)), (None if None in ends else max(ends))


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


def may_publish_on_its_own(st: Statement) -> bool:
    """A file re-imported with the duplicate override never goes to invoicing by itself: its lines may
    already be invoiced and paid there, so a user publishes it explicitly (issue 13)."""
    return st.duplicate_of is None


# -- feeds (upstream.carrier-statements.v1) --------------------------------------------------------
async def feed_started(tx: Transaction, feed_id: str, carrier: str, file_name: str | None, statement_date: Any,
                       columns: list[str]) -> None:
    existing = (await tx.session.execute(select(Statement).where(Statement.feed_statement_id == feed_id))).scalar_one_or_none()
    if existing is not None:
        return  # the same statement announced again
    registered = await find_carrier(tx.session, carrier)
    st = Statement(carrier=registered.name if registered else tidy_name(carrier), source="feed",
                   file_name=(file_name or f"feed {feed_id}")[:300],
                   feed_statement_id=feed_id, statement_date=statement_date, header=json.dumps(columns),
                   status="receiving", imported_by=tx.actor, detected="feed")
    if registered is None:  # its lines are kept: once the carrier (or this alias) is registered, re-match
        st.error = str(UnknownCarrier(st.carrier, closest(st.carrier, await carrier_names(tx.session))))
    profile = await load_profile(tx.session, st.carrier)
    try:
        StatementParser(profile).use_header(columns)
    except NotAStatement as exc:
        st.status, st.error, st.completed_at = "failed", str(exc), utcnow()
    tx.session.add(st)
    await tx.session.flush()


async def feed_rows(tx: Transaction, feed_id: str, first_line_no: int, rows: list[list[str | None]]) -> None:
    st = (await tx.session.execute(select(Statement).where(Statement.feed_statement_id == feed_id))).scalar_one_or_none()
    if st is None:
        raise NotFound(f"rows for unknown feed statement {feed_id}")
    if st.status != "receiving" or not rows:
        return
    last = first_line_no + len(rows) - 1
    seen = await tx.session.scalar(select(func.count()).select_from(LINES).where(
        LINES.c.statement_id == st.id, LINES.c.line_no.between(first_line_no, last)))
    if seen:
        return  # a chunk delivered twice under another event id
    profile = await load_profile(tx.session, st.carrier)
    parser = StatementParser(profile)
    parser.use_header(json.loads(st.header or "[]"))
    batch = [r for i, cells in enumerate(rows)
             if (r := parser.line(st.id, first_line_no + i, ["" if c is None else str(c) for c in cells])) is not None]
    await store_lines(tx.session, batch)
    c = parser.counts
    await tx.session.execute(update(STATEMENTS).where(STATEMENTS.c.id == st.id).values(
        total=STATEMENTS.c.total + c.total, valid=STATEMENTS.c.valid + c.valid,
        invalid=STATEMENTS.c.invalid + c.invalid, blank=STATEMENTS.c.blank + c.blank,
        rows_processed=STATEMENTS.c.rows_processed + c.total))


async def feed_completed(tx: Transaction, feed_id: str, row_count: int, auto_publish: bool = True) -> None:
    st = (await tx.session.execute(select(Statement).where(Statement.feed_statement_id == feed_id))).scalar_one_or_none()
    if st is None:
        raise NotFound(f"completion of unknown feed statement {feed_id}")
    if st.status != "receiving":
        return
    await tx.session.refresh(st)
    if st.total != row_count:
        st.status, st.error, st.completed_at = "failed", f"the feed announced {row_count} rows but sent {st.total}", utcnow()
        await tx.session.flush()
        return
    await rematch(tx.session, st.id, st.carrier)
    await tx.session.refresh(st)
    counts = {k: getattr(st, k) for k in ("total", "valid", "invalid", "blank")}
    await complete_import(tx, st.id, counts, auto_publish=auto_publish)


# -- re-matching -----------------------------------------------------------------------------------
async def rematch(session: Any, statement_id: str, carrier: str) -> None:
    """Match the statement's valid lines that are not matched yet (after new policies, or a changed
    profile), in chunks; then recount."""
    carrier = await adopt_registered_carrier(session, statement_id, carrier)
    profile = await load_profile(session, carrier)
    book = await load_book(session, carrier, profile)
    rows = (await session.execute(select(LINES.c.id, LINES.c.policy_number, LINES.c.effective_date).where(
        LINES.c.statement_id == statement_id, LINES.c.valid.is_(True),
        (LINES.c.match_status != "matched") | LINES.c.match_status.is_(None)))).all()
    normalised = [profile.normalise(number) for _, number, _ in rows]
    index = book.index_for(normalised)
    upd = update(LINES).where(LINES.c.id == bindparam("_id")).values(
        match_status=bindparam("_status"), match_reason=bindparam("_reason"), policy_id=bindparam("_policy_id"),
        normalised_number=bindparam("_norm"))
    params = []
    for (line_id, number, effective), norm in zip(rows, normalised, strict=True):
        status, policy_id, reason = index.match_fields(number, norm, effective)
        params.append({"_id": line_id, "_status": status, "_reason": reason, "_policy_id": policy_id,
                       "_norm": norm})
    for i in range(0, len(params), CHUNK):
        await session.execute(upd, params[i:i + CHUNK], execution_options={"synchronize_session": False})
    await refresh_match_counts(session, statement_id)


async def adopt_registered_carrier(session: Any, statement_id: str, carrier: str) -> str:
    """A feed's statement named a carrier the registry did not know: once it does (registered, or the name
    added as an alias), the statement takes the registered name, and its lines can match that carrier's book."""
    registered = await find_carrier(session, carrier)
    if registered is None or registered.name == carrier:
        return carrier
    await session.execute(update(STATEMENTS).where(STATEMENTS.c.id == statement_id).values(
        carrier=registered.name, error=None))
    return registered.name


# -- publishing to invoicing -----------------------------------------------------------------------
async def publish_statement(tx: Transaction, statement_id: str, exclude_unmatched: bool) -> Statement:
    st = await tx.session.get(Statement, statement_id)
    if st is None:
        raise NotFound("no such statement")
    if st.status != "imported":
        raise Conflict(f"statement is {st.status}: only an imported statement can be published")
    await require_carrier(tx.session, st.carrier)
    pending = st.unmatched + st.ambiguous
    if pending and not exclude_unmatched:
        raise Conflict(f"{pending} lines are not matched: create their policies, or publish with them excluded")
    if pending:
        await tx.session.execute(update(LINES).where(
            LINES.c.statement_id == statement_id, LINES.c.valid.is_(True),
            LINES.c.match_status != "matched").values(excluded=True), execution_options={"synchronize_session": False})
    rows: list[Any] = []
    result = await tx.session.stream(select(LINES).where(
        LINES.c.statement_id == statement_id, LINES.c.valid.is_(True), LINES.c.match_status == "matched")
        .order_by(LINES.c.line_no).execution_options(yield_per=5000))
    async for part in result.mappings().partitions(5000):
        rows.extend(part)
        await asyncio.sleep(0)  # a large statement: other requests are served meanwhile
    chunk_count = (len(rows) + PUBLISH_CHUNK - 1) // PUBLISH_CHUNK
    zero = Decimal("0.00")
    await tx.emit(StatementPublished(
        statement_id=st.id, carrier=st.carrier, statement_date=st.statement_date, file_name=st.file_name,
        line_count=len(rows), chunk_count=chunk_count,
        premium_total=sum((r["premium"] or zero for r in rows), zero),
        commission_total=sum((r["commission_amount"] or zero for r in rows), zero),
        excluded_unmatched=pending))
    for first in range(0, chunk_count, 10):  # ten chunks per executemany, the loop handed back between
        await tx.emit_many(
            StatementLinesPublished(statement_id=st.id, chunk_no=n + 1, chunk_count=chunk_count, lines=[
                StatementLine(line_id=str(r["id"]), line_no=r["line_no"], policy_id=r["policy_id"],
                              policy_number=r["policy_number"], insured_name=r["insured_name"],
                              transaction_type=r["transaction_type"], bill_type=r["bill_type"],
                              effective_date=r["effective_date"], expiration_date=r["expiration_date"],
                              line_of_business=r["line_of_business"], premium=r["premium"],
                              commission_rate=r["commission_rate"], commission_amount=r["commission_amount"],
                              producer_code=r["producer_code"])
                for r in rows[n * PUBLISH_CHUNK:(n + 1) * PUBLISH_CHUNK]])
            for n in range(first, min(first + 10, chunk_count)))
        await asyncio.sleep(0)
    st.status, st.published_by, st.published_at, st.excluded = "published", tx.actor, utcnow(), pending
    await tx.session.flush()
    return st


def error_rows(header: list[str], lines: list[dict[str, Any]]) -> list[list[str]]:
    """Invalid rows as they came (cells under their headers), then the line number and every reason."""
    out = []
    width = len(header)
    for ln in lines:
        cells = json.loads(ln["raw"] or "[]")
        values = (cells + [""] * width)[:width]
        reasons = json.loads(ln["errors"] or "[]")
        extra = [f"column {width + i + 1}={v}" for i, v in enumerate(cells[width:]) if str(v).strip()]
        if extra:
            reasons.append(f"cells beyond the header: {', '.join(extra)}")
        out.append([*values, str(ln["line_no"]), "; ".join(reasons)])
    return out


Imports = Annotated[StatementImports, app_object(STATEMENT_IMPORTS)]  # the app's statement importer, as a route dependency
