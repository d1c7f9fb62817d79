"""Create/Pay All and the exceptions popup."""

from __future__ import annotations

import uuid
from typing import Any

from agency_common.outbox import Transaction
from sqlalchemy import func, select

from invoicing.errors import Invalid
from invoicing.invoices.usecases import (
    audit_posted,
    detect_exceptions,
    insert_invoices,
    invalid_rows,
    post_range,
)
from invoicing.payments.usecases import audit_paid, pay_range
from invoicing.reconciliations.locking import lock, remember, replay, require_live
from invoicing.reconciliations.status import header, refresh_status, totals
from invoicing.stages.abort import abort_stage
from invoicing.statement_entry.duplicates import held_back_count
from invoicing.statement_entry.queries import exception_json, text_or_none
from invoicing.tables import EXC, PV, E

DECISIONS = ("create_pay", "create_pay_post", "cancel", "abort")


async def create_pay_all(tx: Transaction, rec_id: str, decision: str | None = None,
                         key: str | None = None) -> dict[str, Any]:
    """Create/Pay All for the selected rows. Without exceptions the invoices are created, posted and
    flagged received. With exceptions nothing happens until the operator decides (the popup):
    ``create_pay`` and ``create_pay_post`` create, post and pay the rows that are not exceptions
    (``create_pay_post`` then offers posting the reconciliation: ``next = "post"``), ``cancel``
    returns to the reconciliation unchanged, ``abort`` aborts the reconciliation."""
    rec = await lock(tx, rec_id)
    if (done := await replay(tx, key, rec_id, "create-pay-all")) is not None:
        return done
    require_live(rec)
    if decision is not None and decision not in DECISIONS:
        raise Invalid("unknown decision", {"decision": f"one of {', '.join(DECISIONS)}"})
    if decision == "cancel":
        return {"outcome": "cancelled", "reconciliation": header(rec, await totals(tx.session, rec))}
    if decision == "abort":
        result = await abort_stage(tx, rec)
        return await remember(tx, key, rec_id, "create-pay-all", {"outcome": "aborted", **result})
    exceptions = await detect_exceptions(tx, rec_id)
    if exceptions and decision is None:
        rows = await exception_rows(tx.session, rec_id, limit=500)
        return {"outcome": "exceptions", "exception_count": len(exceptions), "exceptions": rows,
                "options": ["create_pay", "create_pay_post", "cancel", "abort"],
                "reconciliation": header(rec, await totals(tx.session, rec))}
    run_id = str(uuid.uuid4())
    created = await insert_invoices(tx, rec_id, None, exclude_exceptions=True, run_id=run_id)
    posted = await post_range(tx, rec_id, None, run_id=run_id)
    paid = await pay_range(tx, rec, run_id=run_id)
    await audit_posted(tx, rec_id, posted, by="create-pay-all")
    await audit_paid(tx, rec_id, paid, by="create-pay-all")
    invalid_count, invalid = await invalid_rows(tx, rec_id)
    duplicates = await held_back_count(tx.session, rec_id)
    t = await refresh_status(tx, rec)
    response = {"outcome": "done", "created": created, "posted": posted.count, **paid, "exception_count": len(exceptions),
                "invalid": invalid_count, "invalid_rows": invalid, "duplicates_excluded": duplicates,
                "next": "post" if decision == "create_pay_post" else "direct_bill",
                "reconciliation": header(rec, t)}
    return await remember(tx, key, rec_id, "create-pay-all", response)


async def exception_rows(session: Any, rec_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    stmt = (select(EXC, E.c.policy_number, func.coalesce(PV.c.client_name, E.c.client_name).label("client"),
                   E.c.premium_paid, E.c.bill_type, E.c.effective_date)
            .select_from(EXC.join(E, E.c.id == EXC.c.entry_id).outerjoin(PV, PV.c.policy_id == E.c.policy_id))
            .where(EXC.c.reconciliation_id == rec_id, EXC.c.status == "open").order_by(EXC.c.entry_id))
    if limit:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    return [{**exception_json(r), "policy_number": r.policy_number, "client_name": r.client,
             "premium_paid": text_or_none(r.premium_paid), "bill_type": r.bill_type,
             "effective_date": r.effective_date.isoformat() if r.effective_date else None} for r in rows]
