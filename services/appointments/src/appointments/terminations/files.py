"""The termination file: read and judged now (what the page shows is what submitting does), then
submitted through the guarded creator."""

from __future__ import annotations

from typing import Any

from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.bulk_files import store_import
from appointments.domain import eligibility as el
from appointments.domain import rows as rowcheck
from appointments.errors import BatchStateError, NotFound
from appointments.transactions import transactions


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
    return await store_import(tx, "terminations", filename, content, parsed,
                               lambda r: r.values, lambda r: r.data)


async def termination_counts(s: AsyncSession, import_id: str) -> tuple[int, int]:
    """How many Gateway transactions and manual tasks the file's valid rows make (their plans only,
    not the rows' views: the result page shows one page of rows)."""
    R = m.BulkImportRow
    plans = (await s.execute(select(R.data).where(R.import_id == import_id, R.valid.is_(True)))).scalars()
    items = [t for data in plans for t in (data or {}).get("transactions", [])]
    manual = sum(1 for t in items if t.get("manual"))
    return len(items) - manual, manual


async def submit_termination_import(tx: Transaction, import_id: str, *, immediate: bool = False,
                                    batch_size: int = 500) -> dict[str, Any]:
    """The valid rows' terminations through the guarded ``transactions.terminate`` (judged again:
    an appointment terminated or a termination opened since the file was read is refused there).
    By default the batches wait for review; ``immediate`` sends them to NIPR now."""
    s = tx.session
    imp = await s.get(m.BulkImport, import_id, with_for_update=True)
    if imp is None or imp.kind != "terminations":
        raise NotFound("no such import")
    if imp.status != "parsed":
        raise BatchStateError("this file's transactions were already created")
    rows = (await s.execute(select(m.BulkImportRow).where(
        m.BulkImportRow.import_id == import_id, m.BulkImportRow.valid.is_(True)).order_by(m.BulkImportRow.line))).scalars()
    imp.processed_by, imp.processed_at = tx.actor, utcnow()
    result = await transactions.terminate(
        tx, [(r.line, _termination_request(t)) for r in rows for t in r.data.get("transactions", [])],
        immediate=immediate, batch_size=batch_size, import_id=import_id)
    imp.result = result
    await tx.audit("terminations.submitted", subject_type="termination_import", subject_id=import_id, detail={
        "immediate": immediate, "transactions": result["transactions"], "batches": len(result["batches"]),
        "manual_tasks": len(result["manual_tasks"]), "refused": len(result["refused"])})
    return result
