"""The bulk-appoint file: rows read into requests, appointed through the guarded creator."""

from __future__ import annotations

from typing import Any, NamedTuple

from agency_common.outbox import Transaction

from appointments.domain import rows as rowcheck
from appointments.transactions import transactions
from appointments.transactions.schemas import BulkRequest


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
