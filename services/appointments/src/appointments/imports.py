"""Bulk files: producer onboarding (parse, process rows), terminations (parse, submit), and the
bulk-appoint file. Every row is kept with its line number and errors; SSNs are encrypted at rest
and masked in what is shown."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, NamedTuple

from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.outbox import Transaction
from agency_common.pii import PiiCipher, mask
from agency_common.timeutil import utcnow
from sqlalchemy import insert, select

from appointments import models as m
from appointments import refdata, transactions
from appointments.domain import eligibility as el
from appointments.domain import rows as rowcheck
from appointments.usecases import BatchStateError, BulkRequest, request_license_sync


async def accepted_values(tx_or_session: Any) -> rowcheck.AcceptedValues:
    s = getattr(tx_or_session, "session", tx_or_session)
    ref = await refdata.snapshot(s)
    agencies = frozenset((await s.execute(select(m.Agency.npn))).scalars())
    states = sorted({st for st, _ in ref.lines})
    return rowcheck.AcceptedValues(agency_npns=agencies, loa_categories=tuple(sorted(ref.categories.values())),
                                   states=tuple(states), cocodes=tuple(sorted(ref.companies)))


async def _store_import(tx: Transaction, kind: str, filename: str, content: bytes, parsed: rowcheck.ParsedFile,
                        display: Any, data: Any) -> m.BulkImport:
    imp = m.BulkImport(kind=kind, filename=filename[:300], sha256=hashlib.sha256(content).hexdigest(),
                       total_rows=len(parsed.rows), valid_rows=len(parsed.valid_rows),
                       invalid_rows=len(parsed.invalid_rows), blank_rows=parsed.blank_rows, uploaded_by=tx.actor)
    tx.session.add(imp)
    await tx.session.flush()
    if parsed.rows:
        await tx.session.execute(insert(m.BulkImportRow.__table__), [
            {"import_id": imp.id, "line": r.line, "valid": r.valid, "errors": r.errors,
             "display": display(r), "data": data(r)} for r in parsed.rows])
    return imp


async def parse_producer_file(tx: Transaction, filename: str, content: bytes, pii: PiiCipher | None) -> m.BulkImport:
    parsed = rowcheck.check_onboarding(content, await accepted_values(tx), filename)
    for r in parsed.rows:
        if r.data.get("ssn") and pii is None:
            r.errors.append("Agent SSN cannot be stored: no PII encryption key is configured")

    def display(r: rowcheck.ParsedRow) -> dict[str, Any]:
        return {k: (mask(val) if k == "Agent SSN" and val else val) for k, val in r.values.items()}

    def data(r: rowcheck.ParsedRow) -> dict[str, Any]:
        d = dict(r.data)
        d["ssn"] = pii.encrypt(d["ssn"]) if (d.get("ssn") and pii is not None) else None
        return d

    return await _store_import(tx, "producers", filename, content, parsed, display, data)


async def process_producer_import(tx: Transaction, import_id: str) -> dict[str, Any]:
    """Create the producers and assignments of the valid rows and ask NIPR for their licenses.
    Re-processing (or a second upload of the same file) creates nothing twice."""
    s = tx.session
    imp = await s.get(m.BulkImport, import_id, with_for_update=True)
    if imp is None or imp.kind != "producers":
        raise LookupError(import_id)
    rows = list((await s.execute(select(m.BulkImportRow).where(
        m.BulkImportRow.import_id == import_id, m.BulkImportRow.valid.is_(True)).order_by(m.BulkImportRow.line))).scalars())
    agencies = dict((await s.execute(select(m.Agency.npn, m.Agency.id))).all())
    npns = [r.data["npn"] for r in rows]
    existing: dict[str, str] = {}
    for i in range(0, len(npns), 2000):
        existing.update(dict((await s.execute(select(m.Producer.npn, m.Producer.id).where(
            m.Producer.npn.in_(npns[i:i + 2000])))).all()))
    now = utcnow()
    new_rows = []
    for r in rows:
        d = r.data
        if d["npn"] in existing:
            continue
        pid = str(uuid.uuid4())
        existing[d["npn"]] = pid
        new_rows.append({"id": pid, "npn": d["npn"], "first_name": d["first_name"], "last_name": d["last_name"],
                         "email": d.get("email"), "ssn_encrypted": d.get("ssn"), "agency_id": agencies.get(d["agency_npn"]),
                         "sync_status": "pending", "active": False, "import_id": imp.id, "created_by": tx.actor,
                         "created_at": now})
    if new_rows:
        await s.execute(insert(m.Producer.__table__), new_rows)
    assignments = []
    for r in rows:
        a = r.data.get("assignment")
        if not a:
            continue
        for cat in a["loa_categories"]:
            for st in a["states"]:
                for cocode in a["cocodes"] or [""]:
                    assignments.append({"producer_id": existing[r.data["npn"]], "loa_category": cat, "state": st,
                                        "cocode": cocode, "scorecard_type": a["scorecard_type"],
                                        "agent_type": a["agent_type"], "created_at": now})
    added = 0
    if assignments:
        before = await _count(s, m.ProducerAssignment)
        await s.execute(insert_ignoring_conflicts(s, m.ProducerAssignment.__table__), assignments)
        added = await _count(s, m.ProducerAssignment) - before
    synced = await request_license_sync(tx, [r["npn"] for r in new_rows])
    result = {"producers_created": len(new_rows), "producers_existing": len(rows) - len(new_rows),
              "assignments_added": added, "license_syncs_requested": synced,
              "invalid_rows_skipped": imp.invalid_rows}
    imp.status, imp.processed_by, imp.processed_at = "processed", tx.actor, now
    imp.result = result
    return result


async def _count(s: Any, model: Any) -> int:
    from sqlalchemy import func
    return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _termination_request(t: dict[str, Any]) -> el.TerminateRequest:
    return el.TerminateRequest(t["npn"], t["state"], t["line_of_authority"], t["cocode"],
                               t.get("termination_reason_code") or None, bool(t.get("for_cause")))


async def parse_termination_file(tx: Transaction, filename: str, content: bytes) -> m.BulkImport:
    """Read the file and judge every termination now, as submitting will again (what the page
    shows is what submitting does, unless the appointments change in between)."""
    parsed = rowcheck.check_terminations(content, filename)
    candidates = [(r, t) for r in parsed.rows if r.valid for t in r.data["transactions"]]
    verdicts = await transactions.judge_terminations(tx.session, [_termination_request(t) for _r, t in candidates])
    for (r, t), verdict in zip(candidates, verdicts, strict=True):
        if verdict.refusal:
            r.errors.append(verdict.refusal)
            continue
        t["termination_reason_code"], t["line_of_authority"] = verdict.code, verdict.line_of_authority
        if verdict.manual:
            t["manual"] = verdict.manual  # a task for the operator, not a transaction
    return await _store_import(tx, "terminations", filename, content, parsed,
                               lambda r: r.values, lambda r: r.data)


async def submit_termination_import(tx: Transaction, import_id: str, *, immediate: bool = False,
                                    batch_size: int = 500) -> dict[str, Any]:
    """The valid rows' terminations through the guarded ``transactions.terminate`` (judged again:
    an appointment terminated or a termination opened since the file was read is refused there).
    By default the batches wait for review; ``immediate`` sends them to NIPR now."""
    s = tx.session
    imp = await s.get(m.BulkImport, import_id, with_for_update=True)
    if imp is None or imp.kind != "terminations":
        raise LookupError(import_id)
    if imp.status != "parsed":
        raise BatchStateError("this file's transactions were already created")
    rows = (await s.execute(select(m.BulkImportRow).where(
        m.BulkImportRow.import_id == import_id, m.BulkImportRow.valid.is_(True)).order_by(m.BulkImportRow.line))).scalars()
    imp.processed_by, imp.processed_at = tx.actor, utcnow()
    result = await transactions.terminate(
        tx, [(r.line, _termination_request(t)) for r in rows for t in r.data.get("transactions", [])],
        immediate=immediate, batch_size=batch_size, import_id=import_id)
    imp.result = result
    return result


class BulkAppointFile(NamedTuple):
    requests: list[BulkRequest]
    lines: list[int]
    row_errors: list[dict[str, Any]]
    blank_rows: int


def parse_bulk_appoint_file(content: bytes, filename: str | None = None) -> BulkAppointFile:
    parsed = rowcheck.check_bulk_appoint(content, filename)
    requests, lines = [], []
    for r in parsed.valid_rows:
        requests.append(BulkRequest.model_validate(r.data))
        lines.append(r.line)
    return BulkAppointFile(requests, lines, [{"line": r.line, "errors": r.errors} for r in parsed.invalid_rows],
                           parsed.blank_rows)


async def bulk_appoint_file(tx: Transaction, content: bytes | BulkAppointFile) -> dict[str, Any]:
    f = content if isinstance(content, BulkAppointFile) else parse_bulk_appoint_file(content)
    out = (await transactions.appoint(tx, f.requests, source="file") if f.requests
           else {"results": [], "batches": [], "transactions": 0})
    for line, res in zip(f.lines, out["results"], strict=True):
        res["line"] = line
    out["row_errors"] = f.row_errors
    out["blank_rows"] = f.blank_rows
    return out


def _termination_counts(r: m.BulkImportRow) -> dict[str, Any]:
    items = r.data.get("transactions", [])
    manual = [t["manual"] for t in items if t.get("manual")]
    return {"transactions": len(items) - len(manual), "manual_tasks": len(manual), "manual": manual}


def import_view(imp: m.BulkImport, rows: list[m.BulkImportRow]) -> dict[str, Any]:
    return imp.model_dump(mode="json") | {
        "rows": [{"line": r.line, "valid": r.valid, "errors": r.errors, "values": r.display,
                  **(_termination_counts(r) if imp.kind == "terminations" else {})}
                 for r in rows]}
