"""A statement published by intake opens a reconciliation with its lines as statement entries."""

from __future__ import annotations

import uuid
from decimal import Decimal

from invoicing.models import Reconciliation, StatementEntry
from invoicing.reconciliations.usecases import business_today
from sqlalchemy import func, select

from tests.invoicing.helpers import entries, line, policy, publish, statement, wait_policies
from tests.support.inprocess import eventually


async def test_statement_chunks_open_one_reconciliation_once(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await publish(kafka, [policy(1), policy(2)])
    lines = [line(1, "p-1"), line(2, "p-2", transaction_type="XLC", premium=Decimal("-50.00"),
                                  commission_amount=Decimal("-7.50")),
             line(3, None, policy_number="UNMATCHED-3"), line(4, "p-1", bill_type="audit", commission_amount=None)]
    sid = str(uuid.uuid4())
    events = statement(sid, lines, chunk_size=2)
    sent = await publish(kafka, events)
    # a redelivery (same event) and a re-publication of chunk 1 (new event id) change nothing; the
    # header once more last: the events share a key (one partition), so once it is in the inbox,
    # everything before it has been handled
    await publish(kafka, [], envelopes=[sent[1]])
    trailer = (await publish(kafka, [events[1], events[0]]))[-1]
    inbox = svc.runtime.tables.inbox

    async def handled() -> bool:
        async with svc.runtime.db.session() as s:
            return bool(await s.scalar(select(func.count()).where(inbox.c.event_id == str(trailer.event_id))))
    await eventually(handled, message="trailing event handled")
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 2)
        recs = (await c.get("/api/reconciliations")).json()["items"]
        assert len(recs) == 1 and recs[0]["statement_line_count"] == 4
        rows = await entries(c, recs[0]["id"])
    async with svc.runtime.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(StatementEntry)) == 4
        rec = (await s.execute(select(Reconciliation))).scalar_one()
        assert rec.statement_total == Decimal("52.50") and rec.carrier == "Acme Mutual"
        assert rec.date_booked == business_today("UTC")
    by_no = {r["policy_number"]: r for r in rows}
    assert by_no["POL-0001"]["bill_type"] == "term_policy" and by_no["POL-0001"]["commission_paid"] == "30.00"
    assert by_no["POL-0002"]["bill_type"] == "cancellation"
    assert by_no["POL-0004"]["bill_type"] == "audit" and by_no["POL-0004"]["commission_paid"] == "30.00"
    assert "policy" in by_no["UNMATCHED-3"]["errors"]
    assert by_no["POL-0001"]["errors"] == {}
    # the operator matches the unmatched line to a policy of the carrier by its number
    unmatched = by_no["UNMATCHED-3"]
    async with svc.as_user(token_for("clerk")) as c:
        url = f"/api/reconciliations/{recs[0]['id']}/entries"
        wrong = await c.patch(url, json={"items": [{"id": unmatched["id"], "version": unmatched["version"],
                                                    "policy_number": "NOPE-1"}]})
        assert wrong.status_code == 422 and "policy_number" in wrong.json()["detail"]["errors"][str(unmatched["id"])]
        right = await c.patch(url, json={"items": [{"id": unmatched["id"], "version": unmatched["version"],
                                                    "policy_number": "pol-0002"}]})
        assert right.status_code == 200, right.text
        assert right.json()["saved"][0]["policy_id"] == "p-2"
        fixed = next(r for r in await entries(c, recs[0]["id"]) if r["id"] == unmatched["id"])
        assert fixed["errors"] == {} and fixed["policy_number"] == "POL-0002"
