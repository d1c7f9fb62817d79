"""Imports of individuals in the background above a threshold (DESIGN: bulk jobs run in the
background with visible progress, can be left and come back to, are idempotent and survive a
restart). At or below the threshold the request imports at once (``import_individuals_csv``).

A job reads its stored file with the synchronous path's reader and chunk writer. Each chunk is ONE
transaction: the individuals it creates or updates, its rows' outcomes and the job's resume point
(``line_done``) and counts. A job resumed after a crash reads on after ``line_done``: a chunk is
either wholly done or not at all, so nobody is created twice. The "already on line N" checks span
the whole file across a resume: the keys of the lines done are read again from the file, the
individuals updated come from the stored outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from agency_common.logging import get_logger
from agency_common.tabular import TabularError, csv_bytes_paged
from agency_common.timeutil import utcnow
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from intake.errors import NotFound, UseCaseError
from intake.individuals.importing import (
    ImportReader,
    count_data_rows,
    import_individuals_csv,
    invalid_rows_csv,
    read_import_chunks,
    write_import_chunk,
)
from intake.individuals.pii import require_cipher as _cipher
from intake.models import IndividualImport, IndividualImportRow
from intake.web import INDIVIDUAL_IMPORTS, app_object

log = get_logger(__name__)
JOBS = IndividualImport.__table__
ROWS = IndividualImportRow.__table__
PAGE_ROWS = 1000  # outcome rows read per query by the CSV exports


class Superseded(Exception):
    """Another runner of the same job committed this chunk first."""


def job_json(job: IndividualImport) -> dict[str, Any]:
    return {
        "id": job.id, "file_name": job.file_name, "status": job.status, "error": job.error,
        "total": job.total, "rows_done": job.rows_done,
        "progress": round(job.rows_done / job.total, 4) if job.total else (1.0 if job.status == "done" else 0.0),
        "created": job.created, "updated": job.updated, "invalid": job.invalid, "blank": job.blank,
        "created_by": job.created_by, "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": f"/api/individual-imports/{job.id}", "page": f"/individuals/import/jobs/{job.id}",
        "results_url": f"/api/individual-imports/{job.id}/results",
        "errors_url": f"/api/individual-imports/{job.id}/errors.csv",
    }


class IndividualImports:
    """Decides between importing now and a background job; starts, runs and resumes the jobs."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.dir = Path(runtime.settings.data_dir).resolve() / runtime.name / "individual-imports"
        self.runner = runtime.job_runner("individual-imports", JOBS, self.run_job, describe=_reason,
                                         expected=(TabularError, UseCaseError))
        # Awaited after each chunk's commit with (job id, rows done so far): lets a test hold a job
        # mid-run (or stop the service there) without sleeping.
        self.after_chunk: Callable[[str, int], Awaitable[None]] | None = None

    @property
    def threshold(self) -> int:
        return self.runtime.settings.individuals_import_background_threshold

    async def for_key(self, idempotency_key: str | None) -> dict[str, Any] | None:
        """The job an idempotency key already started, if any (a repeat starts nothing)."""
        if not idempotency_key:
            return None
        async with self.runtime.db.session() as s:
            job = await _job_for_key(s, idempotency_key)
        return job_json(job) if job else None

    async def submit(self, upload: str, file_name: str, actor: str, idempotency_key: str | None = None
                     ) -> dict[str, Any]:
        """``{"result": ...}`` (imported now, as ``import_individuals_csv`` answers) at or below the
        threshold; else ``{"job": ..., "created": bool}``. A job takes the uploaded file away from
        ``upload`` (the caller removes what is left there)."""
        if (job := await self.for_key(idempotency_key)) is not None:
            return {"job": job, "created": False}
        # Counting reads the file once more (a thread, parsing only: a fraction of the import's
        # cost) but exactly: quoted line breaks and spreadsheets count as the import counts them.
        rows = await asyncio.to_thread(count_data_rows, upload, file_name)
        if rows <= self.threshold:
            return {"result": await import_individuals_csv(self.runtime, upload, file_name, actor)}
        _cipher(self.runtime)  # refused now, not in the background, when PII cannot be encrypted
        job = IndividualImport(file_name=os.path.basename(file_name)[:300] or "individuals.csv", total=rows,
                               idempotency_key=idempotency_key or None, created_by=actor)
        self.dir.mkdir(parents=True, exist_ok=True)
        stored = self.dir / f"{job.id}{Path(job.file_name).suffix.lower()[:10]}"
        job.stored_path = str(stored)
        await asyncio.to_thread(shutil.move, upload, stored)
        try:
            async with self.runtime.uow(actor=actor) as tx:
                tx.session.add(job)
        except IntegrityError:  # the same request at the same moment
            stored.unlink(missing_ok=True)
            if (existing := await self.for_key(idempotency_key)) is None:
                raise
            return {"job": existing, "created": False}
        except BaseException:
            stored.unlink(missing_ok=True)
            raise
        self.runner.launch(job.id)
        log.info("individuals import queued", job_id=job.id, rows=rows)
        return {"job": job_json(job), "created": True}

    async def get(self, job_id: str) -> IndividualImport:
        async with self.runtime.db.session() as s:
            job = await s.get(IndividualImport, job_id)
        if job is None:
            raise NotFound("no such import")
        return job

    async def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        async with self.runtime.db.session() as s:
            jobs = (await s.execute(select(IndividualImport).order_by(
                IndividualImport.created_at.desc()).limit(limit))).scalars().all()
        return [job_json(j) for j in jobs]

    async def results(self, job_id: str, offset: int = 0, limit: int = 100, outcome: str | None = None
                      ) -> tuple[int, list[dict[str, Any]]]:
        """A page of the rows' outcomes in line order: line, outcome, individual id, name, reasons;
        never the cells."""
        conds = [ROWS.c.import_id == job_id, *([ROWS.c.outcome == outcome] if outcome else [])]
        async with self.runtime.db.session() as s:
            total = await s.scalar(select(func.count()).select_from(ROWS).where(*conds)) or 0
            rows = (await s.execute(select(ROWS.c.line, ROWS.c.outcome, ROWS.c.individual_id, ROWS.c.name,
                                           ROWS.c.reasons).where(*conds).order_by(ROWS.c.line)
                                    .offset(offset).limit(limit))).all()
        return total, [{"line": r.line, "outcome": r.outcome, "id": r.individual_id, "name": r.name or "",
                        "reasons": json.loads(r.reasons)} for r in rows]

    def results_csv(self, job: IndividualImport) -> AsyncIterator[bytes]:
        """Every row's result as CSV (the synchronous import's results CSV), read page by page."""
        async def pages() -> AsyncIterator[list[list[str]]]:
            offset = 0
            while True:
                _total, items = await self.results(job.id, offset, PAGE_ROWS)
                if not items:
                    return
                yield [[str(r["line"]), r["outcome"], r["id"] or "", r["name"], "; ".join(r["reasons"])] for r in items]
                offset += len(items)
        return csv_bytes_paged(["line", "outcome", "individual_id", "name", "reasons"], pages())

    def errors_csv(self, job: IndividualImport, reveal: bool) -> AsyncIterator[bytes]:
        """The invalid rows offered back as the synchronous import offers them (line, reasons, the
        file's columns; PII masked unless ``reveal``; formulas neutralised), read page by page."""
        cipher = _cipher(self.runtime)
        header = json.loads(job.header or "[]")
        pii = json.loads(job.pii_columns or "[]")

        async def pages() -> AsyncIterator[list[list[str]]]:
            after = 0
            while True:
                async with self.runtime.db.session() as s:
                    rows = (await s.execute(select(ROWS.c.line, ROWS.c.reasons, ROWS.c.cells_enc).where(
                        ROWS.c.import_id == job.id, ROWS.c.outcome == "invalid", ROWS.c.line > after)
                        .order_by(ROWS.c.line).limit(PAGE_ROWS))).all()
                if not rows:
                    return
                after = rows[-1].line
                invalid = [(r.line, json.loads(cipher.decrypt(r.cells_enc) or "[]"), json.loads(r.reasons)) for r in rows]
                yield invalid_rows_csv({"pii_columns": pii, "header": header, "invalid_rows": invalid}, reveal)[1]
        return csv_bytes_paged(["line", "errors", *header], pages())

    # -- the job ------------------------------------------------------------------------------------
    async def run_job(self, job_id: str) -> None:
        async with self.runtime.db.transaction() as s:
            claimed = await s.execute(update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status.in_(("queued", "running")))
                                      .values(status="running", started_at=func.coalesce(JOBS.c.started_at, utcnow())))
            if claimed.rowcount != 1:
                return
            job = (await s.execute(select(IndividualImport).where(IndividualImport.id == job_id))).scalar_one()
            # the individuals earlier lines of this file updated, for "already on line N" (a resume)
            touched = {r.individual_id: r.line for r in (await s.execute(select(ROWS.c.individual_id, ROWS.c.line).where(
                ROWS.c.import_id == job_id, ROWS.c.outcome == "updated"))).all()}
        try:
            if not job.stored_path or not Path(job.stored_path).exists():
                raise UseCaseError("the uploaded file is no longer there: import the file again")
            await self._import(job, touched)
        except Superseded:
            log.info("individuals import chunk done by another runner; this one stops", job_id=job_id)
            return
        except Exception:
            self._remove_file(job)
            raise
        self._remove_file(job)

    async def _import(self, job: IndividualImport, touched: dict[str, int]) -> None:
        cipher = _cipher(self.runtime)
        reader = await asyncio.to_thread(ImportReader, job.stored_path, job.file_name,
                                         self.runtime.settings.individuals_import_chunk, job.line_done)
        line_done, rows_done = job.line_done, job.rows_done
        async for chunk in read_import_chunks(reader):
            async with self.runtime.uow(actor=job.created_by) as tx:
                # first: this chunk's claim (the job's row lock on PostgreSQL); a second runner of the
                # same job finds the resume point moved and rolls back
                moved = await tx.session.execute(update(JOBS).where(JOBS.c.id == job.id, JOBS.c.line_done == line_done)
                                                 .values(line_done=chunk.last_line))
                if moved.rowcount != 1:
                    raise Superseded(job.id)
                results = await write_import_chunk(tx, cipher, job.file_name, chunk, touched)
                if results:
                    await tx.session.execute(insert(ROWS), [{
                        "import_id": job.id, "line": r["line"], "outcome": r["outcome"], "individual_id": r["id"],
                        "name": r["name"], "reasons": json.dumps(r["reasons"]),
                        # the cells may hold SSN or DOB: encrypted at rest, like the individual's PII
                        "cells_enc": cipher.encrypt(json.dumps(chunk.invalid_cells[r["line"]]))
                        if r["outcome"] == "invalid" else None} for r in results])
                outcomes = {k: sum(r["outcome"] == k for r in results) for k in ("created", "updated", "invalid")}
                await tx.session.execute(update(JOBS).where(JOBS.c.id == job.id).values(
                    rows_done=JOBS.c.rows_done + chunk.rows, blank=JOBS.c.blank + chunk.blank,
                    header=json.dumps(reader.header), pii_columns=json.dumps(reader.pii_columns),
                    **{k: JOBS.c[k] + n for k, n in outcomes.items()}))
            line_done, rows_done = chunk.last_line, rows_done + chunk.rows
            if self.after_chunk is not None:
                await self.after_chunk(job.id, rows_done)
        async with self.runtime.db.transaction() as s:
            # total: what was read (the count at upload could only differ for a file changed since)
            await s.execute(update(JOBS).where(JOBS.c.id == job.id).values(
                status="done", total=JOBS.c.rows_done, header=json.dumps(reader.header),
                pii_columns=json.dumps(reader.pii_columns), stored_path=None, finished_at=utcnow()))
        log.info("individuals import done", job_id=job.id, rows=rows_done)

    @staticmethod
    def _remove_file(job: IndividualImport) -> None:
        if job.stored_path:
            with contextlib.suppress(OSError):
                os.unlink(job.stored_path)


async def _job_for_key(session: Any, key: str) -> IndividualImport | None:
    return (await session.execute(
        select(IndividualImport).where(IndividualImport.idempotency_key == key))).scalar_one_or_none()


def _reason(exc: Exception) -> str:
    if isinstance(exc, (TabularError, UseCaseError)):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


# The app's background individual imports, as a route dependency
ImportJobs = Annotated[IndividualImports, app_object(INDIVIDUAL_IMPORTS)]
