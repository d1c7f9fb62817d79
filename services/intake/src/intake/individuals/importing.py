"""Importing individuals from a CSV or spreadsheet: the header read to fields (custom columns
included), each row validated, chunks written by executemany. The synchronous path; a
background import (``import_jobs``) runs the same reader and chunk writer."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agency_common.db.engine import one_of
from agency_common.outbox import Transaction
from agency_common.pii import PiiCipher, mask
from agency_common.tabular import TabularError, TooLarge, is_blank, open_table
from agency_common.timeutil import utcnow
from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update

from intake.domain.values import ValueProblem, header_key, parse_date
from intake.individuals.domain.fields import (
    CUSTOM_FIELD_TYPES,
    FIELD_LABELS,
    PII_FIELDS,
    STANDARD_FIELDS,
    custom_type,
    storage_key,
)
from intake.individuals.pii import encrypt_field, require_cipher, storage_values
from intake.individuals.schemas import CustomField, IndividualIn
from intake.models import Individual, IndividualAudit, Policy, SalesRecord

IND = Individual.__table__
SR = SalesRecord.__table__
POL = Policy.__table__


_HEADER_ALIASES = {
    "dob": ("date of birth", "birth date", "dob"), "ssn": ("social security number", "ssn", "social security"),
    "medicare_id": ("medicare beneficiary id", "medicare id", "mbi"),
    "medicare_part_a": ("medicare effective date part a", "part a effective date", "medicare part a"),
    "medicare_part_b": ("medicare effective date part b", "part b effective date", "medicare part b"),
    "drivers_license": ("driver's license number", "drivers license number", "driver license", "drivers license"),
    "address_line1": ("address line 1", "address", "address1"), "zip_code": ("zip code", "zip", "postal code"),
    "record_status": ("record status", "individual status", "status"), "primary_email": ("primary email", "email"),
    # keys: a row naming an existing individual updates it
    "id": ("individual id", "id"), "external_id": ("external id", "crm id"),
}


KEY_COLUMNS = ("id", "external_id")


DATE_FIELDS = ("dob", "medicare_part_a", "medicare_part_b")


def template_columns() -> list[str]:
    """The CSV template's header: the keys, every standard field, one custom column per type."""
    examples = {"text": "Notes", "date": "Follow-up date", "dropdown": "Plan", "number": "Household size",
                "currency": "Income", "percent": "Discount", "checkbox": "Newsletter", "checkbox_list": "Interests"}
    return ["Individual ID", "External ID", *(FIELD_LABELS[f] for f in STANDARD_FIELDS),
            *(f"custom:{t}:{examples[t]}" for t in CUSTOM_FIELD_TYPES)]


def individual_columns(header: list[str]) -> tuple[dict[str, int], dict[int, tuple[str, str]]]:
    """Standard field (and key) → column, and custom columns (``custom:<type>:<name>``) → (type, name)."""
    keys = [header_key(h) for h in header]
    found: dict[str, int] = {}
    for f in (*KEY_COLUMNS, *STANDARD_FIELDS):
        for alias in (f.replace("_", " "), *_HEADER_ALIASES.get(f, ())):
            k = header_key(alias)
            if k in keys and f not in found:
                found[f] = keys.index(k)
    custom: dict[int, tuple[str, str]] = {}
    for i, h in enumerate(header):
        parts = h.strip().split(":", 2)
        if len(parts) == 3 and parts[0].strip().lower() == "custom":
            try:
                custom[i] = (custom_type(parts[1]), parts[2].strip())
            except ValueError as exc:
                raise TabularError(f"column {h.strip()!r}: {exc}") from None
    return found, custom


def _row_keys(cells: list[str], columns: dict[str, int]) -> dict[str, str]:
    """The row's Individual ID and External ID, those given."""
    given = {k: cells[columns[k]].strip() for k in KEY_COLUMNS if k in columns and columns[k] < len(cells)}
    return {k: v for k, v in given.items() if v}


def _row_input(cells: list[str], columns: dict[str, int], custom: dict[int, tuple[str, str]]
               ) -> tuple[IndividualIn | None, dict[str, str], list[str]]:
    """One row → (the validated individual or None, its keys, the reasons it is invalid).
    Reasons name the field, never its value (it may be PII). A masked PII value (from a masked
    export) is treated as not given: it never overwrites the real one."""
    def cell(i: int) -> str:
        return cells[i].strip() if i < len(cells) else ""

    reasons: list[str] = []
    data: dict[str, Any] = {}
    keys = _row_keys(cells, columns)
    for f, i in columns.items():
        v = cell(i)
        if f in KEY_COLUMNS or not v or (f in PII_FIELDS and v.startswith("***")):
            continue
        if f in DATE_FIELDS:
            try:
                data[f] = parse_date(v)
            except ValueProblem:
                reasons.append(f"{f}: not a date")
                continue
        else:
            data[f] = v
    customs: list[CustomField] = []
    for i, (ctype, cname) in custom.items():
        if not cell(i):
            continue
        try:
            customs.append(CustomField(name=cname, type=ctype, value=cell(i)))  # type: ignore[arg-type]
        except ValidationError as exc:
            reasons.extend(f"{cname}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
    try:
        ind = IndividualIn.model_validate({**data, "custom_fields": customs})
    except ValidationError as exc:
        reasons.extend(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        ind = None
    return (None if reasons else ind), keys, reasons


def _merge_custom(old: list[dict[str, Any]], new: list[CustomField]) -> list[dict[str, Any]]:
    given = {c.name: c.model_dump(mode="json") for c in new}
    kept = [c if c.get("name") not in given else given.pop(c["name"]) for c in old]
    return kept + list(given.values())


Pending = list[tuple[int, IndividualIn, dict[str, str], list[str]]]  # line, input, keys, cells


@dataclass
class ImportChunk:
    """Consecutive data rows of a file, read and validated: the valid ones to write, the results of
    the invalid ones, how many rows (blank included) and the last line they cover."""

    pending: Pending = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    invalid_cells: dict[int, list[str]] = field(default_factory=dict)
    rows: int = 0
    blank: int = 0
    last_line: int = 0


class ImportReader:
    """Reads an individuals file chunk by chunk: the header, then each row parsed and validated,
    with the "already on line N of this file" check on its keys. ``read_chunk`` is blocking (it
    reads the file): call it in a worker thread. ``resume_after``: the rows up to this line were
    done by an earlier run; they are not returned again, but their keys are still remembered, so
    the duplicate check spans the whole file."""

    def __init__(self, path: Any, file_name: str, chunk_rows: int, resume_after: int = 0) -> None:
        _info, self._rows = open_table(path, file_name)
        self.chunk_rows = max(chunk_rows, 1)
        self.resume_after = resume_after
        self.header: list[str] | None = None
        self.columns: dict[str, int] = {}
        self.custom: dict[int, tuple[str, str]] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.finished = False

    @property
    def pii_columns(self) -> list[int]:
        return sorted(self.columns[f] for f in PII_FIELDS if f in self.columns)

    def _take_header(self, cells: list[str]) -> None:
        self.columns, self.custom = individual_columns(cells)
        if not set(self.columns) - set(KEY_COLUMNS):
            raise TabularError("not an individuals file: no column names an individual field")
        self.header = cells

    def _remember_keys(self, line_no: int, keys: dict[str, str]) -> list[str]:
        reasons = []
        for k, v in keys.items():
            if (k, v) in self.seen:
                reasons.append(f"{k}: already on line {self.seen[k, v]} of this file")
            else:
                self.seen[k, v] = line_no
        return reasons

    def read_chunk(self) -> ImportChunk | None:
        """The next ``chunk_rows`` data rows, or None at the end of the file."""
        if self.finished:
            return None
        chunk = ImportChunk()
        for line_no, cells in self._rows:
            if self.header is None:
                if not is_blank(cells):
                    self._take_header(cells)
                continue
            blank = is_blank(cells)
            if line_no <= self.resume_after:
                if not blank:
                    self._remember_keys(line_no, _row_keys(cells, self.columns))
                continue
            chunk.rows += 1
            chunk.last_line = line_no
            if blank:
                chunk.blank += 1
            else:
                ind, keys, reasons = _row_input(cells, self.columns, self.custom)
                reasons += self._remember_keys(line_no, keys)
                if reasons or ind is None:
                    chunk.invalid_cells[line_no] = cells
                    chunk.invalid.append({"line": line_no, "outcome": "invalid", "id": None, "reasons": reasons,
                                          "name": ", ".join(cells[self.columns[f]].strip() for f in ("last_name", "first_name")
                                                            if f in self.columns and self.columns[f] < len(cells)
                                                            and cells[self.columns[f]].strip())})
                else:
                    chunk.pending.append((line_no, ind, keys, cells))
            if chunk.rows >= self.chunk_rows:
                return chunk
        self.finished = True
        if self.header is None:
            raise TabularError("the file has no header row")
        return chunk if chunk.rows else None


def count_data_rows(path: Any, file_name: str) -> int:
    """The data rows of a file (after its first non-blank row; blank ones included), read with the
    same reader as the import, so quoted line breaks and spreadsheets count right. A file the
    reader refuses part-way counts the rows before the refusal: the import reports the reason."""
    count, header_seen = 0, False
    try:
        _info, rows = open_table(path, file_name)
        for _line, cells in rows:
            if header_seen:
                count += 1
            elif not is_blank(cells):
                header_seen = True
    except TabularError:
        pass
    return count


async def read_import_chunks(reader: ImportReader) -> AsyncIterator[ImportChunk]:
    """The file's chunks, each read in a worker thread: the event loop serves requests meanwhile."""
    while (chunk := await asyncio.to_thread(reader.read_chunk)) is not None:
        yield chunk


async def write_import_chunk(tx: Transaction, cipher: PiiCipher, file_name: str, chunk: ImportChunk,
                             touched: dict[str, int]) -> list[dict[str, Any]]:
    """Creates and updates of one chunk in the caller's transaction (executemany, never an ORM
    object per row); returns every non-blank row's result. ``touched``: the individuals already
    updated by earlier lines of the file (individual id → line), kept up to date."""
    actor = tx.actor
    pending = chunk.pending
    results = list(chunk.invalid)
    ids = [k["id"] for _, _, k, _ in pending if "id" in k]
    exts = [k["external_id"] for _, _, k, _ in pending if "external_id" in k and "id" not in k]
    by_id: dict[str, str] = {}
    by_ext: dict[str, str] = {}
    if ids:
        by_id = {r.id: r.custom_fields for r in (await tx.session.execute(
            select(IND.c.id, IND.c.custom_fields).where(one_of(tx.session, IND.c.id, ids)))).all()}
    if exts:
        for r in (await tx.session.execute(select(IND.c.id, IND.c.external_id, IND.c.custom_fields)
                                           .where(one_of(tx.session, IND.c.external_id, exts)))).all():
            by_ext[r.external_id], by_id[r.id] = r.id, r.custom_fields
    now = utcnow()
    creates: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    audits: list[dict[str, Any]] = []
    for line, d, keys, cells in pending:
        name = ", ".join(x for x in (d.last_name, d.first_name) if x)
        target = keys.get("id") or by_ext.get(keys.get("external_id", ""))
        reason = ("id: no individual has this id" if "id" in keys and target not in by_id else
                  f"this individual is already on line {touched[target]} of this file" if target in touched else None)
        if reason:
            chunk.invalid_cells[line] = cells
            results.append({"line": line, "outcome": "invalid", "id": None, "name": name, "reasons": [reason]})
            continue
        if target is not None:
            touched[target] = line  # a second row for it would make the outcome depend on row order
        if target is None:
            new_id = str(uuid.uuid4())
            creates.append({**storage_values(d, cipher), "id": new_id, "external_id": keys.get("external_id"),
                            "version": 1, "custom_fields": json.dumps([c.model_dump(mode="json") for c in d.custom_fields]),
                            "created_by": actor, "created_at": now, "updated_at": now})
            results.append({"line": line, "outcome": "created", "id": new_id, "name": name, "reasons": []})
            continue
        # blank cells leave the individual's value alone; custom fields merge by name
        values = {storage_key(f): encrypt_field(cipher, f, v) for f, v in d.model_dump(
            exclude={"custom_fields"}, exclude_none=True).items()}
        values["custom_fields"] = json.dumps(_merge_custom(json.loads(by_id[target]), d.custom_fields))
        updates.setdefault(tuple(sorted(values)), []).append({**values, "_id": target})
        audits.append({"id": str(uuid.uuid4()), "individual_id": target, "action": "csv_import_update",
                       "actor": actor, "at": now, "details": json.dumps({
                           "file": file_name, "line": line,
                           "fields": sorted(f for f in d.model_dump(exclude_none=True) if f != "custom_fields"),
                           "custom_fields": [c.name for c in d.custom_fields]})})
        results.append({"line": line, "outcome": "updated", "id": target, "name": name, "reasons": []})
    if creates:
        await tx.session.execute(insert(IND), creates)
    for cols, rows in updates.items():
        stmt = update(IND).where(IND.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in cols} | {"version": IND.c.version + 1, "updated_at": now})
        await tx.session.execute(stmt, rows)
    if audits:
        await tx.session.execute(insert(IndividualAudit.__table__), audits)
    return results


async def import_individuals_csv(runtime: Any, path: Any, file_name: str, actor: str) -> dict[str, Any]:
    """Every row is accounted for: created, updated (a row whose Individual ID or External ID names
    an existing individual), invalid (with line and reasons) or blank (counted, not an error).
    Also returns what a screen needs to offer the invalid rows back: the header, the invalid rows'
    cells and which columns hold PII. The synchronous path: a background import
    (``intake.individual_imports``) runs the same reader and chunk writer."""
    cipher = require_cipher(runtime)
    reader = ImportReader(path, file_name, runtime.settings.individuals_import_chunk)
    counts = {"total": 0, "created": 0, "updated": 0, "invalid": 0, "blank": 0}
    results: list[dict[str, Any]] = []
    invalid_cells: dict[int, list[str]] = {}
    touched: dict[str, int] = {}
    async for chunk in read_import_chunks(reader):
        counts["total"] += chunk.rows
        counts["blank"] += chunk.blank
        if chunk.pending:
            async with runtime.uow(actor=actor) as tx:
                results += await write_import_chunk(tx, cipher, file_name, chunk, touched)
        else:
            results += chunk.invalid
        invalid_cells |= chunk.invalid_cells
    results.sort(key=lambda r: r["line"])
    for r in results:
        counts[r["outcome"]] += 1
    invalid = [r for r in results if r["outcome"] == "invalid"]
    return counts | {"errors": [{"line": r["line"], "errors": r["reasons"]} for r in invalid], "results": results,
                     "header": reader.header, "pii_columns": reader.pii_columns,
                     "invalid_rows": [(r["line"], invalid_cells[r["line"]], r["reasons"]) for r in invalid]}


async def save_upload(file: Any, max_bytes: int) -> str:
    """An uploaded file to a temporary path, refused past ``max_bytes`` (nothing caps a request
    body for us). The caller removes the file."""
    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(file.filename or "")[1][:10])
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while block := await file.read(1 << 20):
                size += len(block)
                if size > max_bytes:
                    raise TooLarge(f"the file is larger than {max_bytes // (1024 * 1024)} MiB")
                out.write(block)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def invalid_rows_csv(result: dict[str, Any], reveal: bool) -> tuple[list[str], list[list[str]]]:
    """The invalid rows offered back (line, reasons, then the file's own columns) so they can be
    fixed and re-imported; PII cells masked unless the user may reveal them (a masked cell is
    ignored on re-import, it never overwrites the real value)."""
    pii = set(result["pii_columns"])
    rows = [[str(line), "; ".join(reasons),
             *[(c if reveal or i not in pii or not c.strip() else mask(c.strip()) or "") for i, c in enumerate(cells)]]
            for line, cells, reasons in result["invalid_rows"]]
    return ["line", "errors", *result["header"]], rows


def results_csv(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    return ["line", "outcome", "individual_id", "name", "reasons"], [
        [str(r["line"]), r["outcome"], r["id"] or "", r["name"], "; ".join(r["reasons"])] for r in result["results"]]
