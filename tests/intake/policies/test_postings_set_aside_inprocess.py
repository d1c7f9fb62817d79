"""Postings for a policy intake does not know, through the real broker: the rest of the chunk is applied,
the unknown ones wait as a dead letter of their own, and replaying it once the policy exists applies
exactly those (issue 17 item 1)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from agency_common.contracts.invoicing import InvoicesPosted, PostedInvoice
from intake.models import Policy, PolicyTerm
from sqlalchemy import delete, insert, select

from tests.intake.statements.test_feed_events_inprocess import publish
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def test_unknown_policies_wait_as_a_dead_letter_and_replay_applies_them(start_service, token_for):
    intake = await start_service("intake")
    rt = intake.runtime
    p, pt, dl = Policy.__table__, PolicyTerm.__table__, rt.tables.dead_letters
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Waitco")
        ids = []
        for n in (1, 2):
            r = await client.post("/api/policies", json={
                "carrier": "Waitco", "policy_number": f"W-{n}", "client_name": f"Ann Wait {n}",
                "effective_date": "2026-01-01", "expiration_date": "2027-01-01", "estimated_premium": "1000.00",
                "commission_rate": "10%"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["policy_id"])
    known, late = ids
    # the late policy is not in intake yet when its posting arrives (taken out, put back below)
    async with rt.db.transaction() as s:
        policy_row = dict((await s.execute(select(p).where(p.c.id == late))).mappings().one())
        term_rows = [dict(r) for r in (await s.execute(select(pt).where(pt.c.policy_id == late))).mappings()]
        await s.execute(delete(pt).where(pt.c.policy_id == late))
        await s.execute(delete(p).where(p.c.id == late))

    def invoice(pid: str, premium: str) -> PostedInvoice:
        return PostedInvoice(invoice_id=str(uuid.uuid4()), policy_id=pid, bill_type="installment",
                             effective_date=date(2026, 3, 1), premium=Decimal(premium), commission=Decimal("1.00"))
    await publish(rt, InvoicesPosted(reconciliation_id="rec-wait", invoices=[
        invoice(known, "10.00"), invoice(late, "20.00"), invoice(known, "5.00")]), producer="invoicing")

    async def set_aside():
        async with rt.db.session() as s:
            return (await s.execute(select(dl).where(dl.c.error_type == "PolicyNotFound"))).mappings().all()
    (row,) = await eventually(set_aside, message="the unknown posting set aside")
    assert late in row["error"] and row["topic"] == InvoicesPosted.topic
    async with rt.db.session() as s:
        assert await s.scalar(select(p.c.billed_premium).where(p.c.id == known)) == Decimal("15.00")

    async with rt.db.transaction() as s:
        await s.execute(insert(p), [policy_row])
        await s.execute(insert(pt), term_rows)
    async with intake.as_user(token_for("admin")) as admin:
        r = await admin.post(f"/api/dead-letters/{row['id']}/replay")
        assert r.status_code == 200, r.text

    async def late_applied():
        async with rt.db.session() as s:
            return await s.scalar(select(p.c.billed_premium).where(p.c.id == late))
    assert await eventually(late_applied, message="the replayed posting applied") == Decimal("20.00")
    async with rt.db.session() as s:
        assert await s.scalar(select(p.c.billed_premium).where(p.c.id == known)) == Decimal("15.00")  # once
    assert len(await set_aside()) == 1  # and nothing set aside again
