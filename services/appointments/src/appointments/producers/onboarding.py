"""Bulk onboarding: the producer file parsed (SSNs encrypted at rest, masked in what is shown) and
processed (producers, assignments, license syncs)."""

from __future__ import annotations

import uuid
from typing import Any

from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.outbox import Transaction
from agency_common.pii import PiiCipher, mask
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, func, insert, select, update

from appointments import models as m
from appointments.bulk_files import store_import
from appointments.domain import producers as producer_rules
from appointments.domain import rows as rowcheck
from appointments.errors import NotFound
from appointments.producers import editing
from appointments.producers.license_sync import request_license_sync
from appointments.reference_data import refdata
from appointments.sql import chunks, in_list


async def accepted_values(tx_or_session: Any) -> rowcheck.AcceptedValues:
    s = getattr(tx_or_session, "session", tx_or_session)
    ref = await refdata.snapshot(s)
    agencies = frozenset((await s.execute(select(m.Agency.npn))).scalars())
    states = sorted({st for st, _ in ref.lines})
    return rowcheck.AcceptedValues(agency_npns=agencies, loa_categories=tuple(sorted(ref.categories.values())),
                                   states=tuple(states), cocodes=tuple(sorted(ref.companies)))


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

    return await store_import(tx, "producers", filename, content, parsed, display, data)


async def process_producer_import(tx: Transaction, import_id: str, pii: PiiCipher | None = None) -> dict[str, Any]:
    """Create the producers and assignments of the valid rows and ask NIPR for their licenses; a row
    of a producer already on record updates what it says differently (names, email, agency, agent
    type; a blank cell changes nothing). Each row says which it was (``outcome``). Re-processing (or a
    second upload of the same file) creates nothing twice."""
    s = tx.session
    imp = await s.get(m.BulkImport, import_id, with_for_update=True)
    if imp is None or imp.kind != "producers":
        raise NotFound("no such import")
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
    outcomes: dict[int, str] = {}  # row id → what processing did with it
    updated = 0
    on_record = set(existing)
    for r in rows:
        d = r.data
        if d["npn"] in existing:
            continue
        pid = str(uuid.uuid4())
        existing[d["npn"]] = pid
        outcomes[r.id] = producer_rules.outcome(None)
        new_rows.append({"id": pid, "npn": d["npn"], "first_name": d["first_name"], "last_name": d["last_name"],
                         "email": d.get("email"), "ssn_encrypted": d.get("ssn"), "agency_id": agencies.get(d["agency_npn"]),
                         "agent_type": (d.get("assignment") or {}).get("agent_type"),
                         "sync_status": "pending", "active": False, "import_id": imp.id, "created_by": tx.actor,
                         "created_at": now})
    if new_rows:
        await s.execute(insert(m.Producer.__table__), new_rows)
    # Producers already on record: what the file says differently updates them, recorded in their history.
    again = [r for r in rows if r.data["npn"] in on_record]
    for part in chunks(again):
        by_npn = {p.npn: p for p in (await s.execute(select(m.Producer).where(
            in_list(m.Producer.npn, [r.data["npn"] for r in part])).with_for_update())).scalars()}
        for r in part:
            changed = await editing.apply_changes(
                tx, by_npn[r.data["npn"]], producer_rules.from_onboarding_row(r.data), agencies, pii,
                {"kind": "onboarding", "import_id": imp.id, "line": r.line})
            updated += bool(changed)
            outcomes[r.id] = producer_rules.outcome(changed)
    if outcomes:
        await s.execute(update(m.BulkImportRow.__table__).where(m.BulkImportRow.__table__.c.id == bindparam("rid"))
                        .values(outcome=bindparam("said")), [{"rid": k, "said": val} for k, val in outcomes.items()])
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
              "producers_updated": updated,
              "assignments_added": added, "license_syncs_requested": synced,
              "invalid_rows_skipped": imp.invalid_rows}
    imp.status, imp.processed_by, imp.processed_at = "processed", tx.actor, now
    imp.result = result
    return result


async def _count(s: Any, model: Any) -> int:
    return int(await s.scalar(select(func.count()).select_from(model)) or 0)
