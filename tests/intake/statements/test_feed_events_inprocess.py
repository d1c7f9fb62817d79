"""intake's consumers on the real broker: a carrier statement arriving as feed events, and
invoicing's postings changing a policy's annualized and billed premium."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from agency_common.contracts.envelope import EventPayload, make_envelope
from agency_common.contracts.invoicing import InvoicePosted
from agency_common.contracts.upstream import (
    CarrierStatementCompleted,
    CarrierStatementRows,
    CarrierStatementStarted,
)
from agency_common.messaging.broker import kafka_headers

from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def publish(runtime, payload: EventPayload, producer: str = "upstream") -> None:
    env = make_envelope(payload, producer=producer, actor="feed-bot", correlation_id=str(uuid.uuid4()))
    await runtime.broker.publish(env.model_dump_json().encode(), topic=payload.topic, key=payload.key().encode(),
                                 headers=kafka_headers(env.headers()))


async def test_feed_statement_and_invoice_postings(start_service, token_for) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Feedco")
        r = await client.post("/api/policies", json={"carrier": "Feedco", "policy_number": "F-1", "client_name": "Ann",
                                                     "effective_date": "2026-01-01", "expiration_date": "2027-01-01"})
        policy_id = r.json()["policy_id"]

        feed = "feed-" + uuid.uuid4().hex
        columns = ["Policy No", "Insured", "Trans Type", "Premium", "Comm Amt"]
        await publish(rt, CarrierStatementStarted(feed_statement_id=feed, carrier="Feedco", columns=columns))
        await publish(rt, CarrierStatementRows(feed_statement_id=feed, chunk_no=1, first_line_no=2, rows=[
            ["f 1", "Ann", "NBS", "100.00", "10.00"], [None, None, None, None, None]]))
        # the same chunk again under another event id has no second effect
        await publish(rt, CarrierStatementRows(feed_statement_id=feed, chunk_no=1, first_line_no=2, rows=[
            ["f 1", "Ann", "NBS", "100.00", "10.00"], [None, None, None, None, None]]))
        await publish(rt, CarrierStatementRows(feed_statement_id=feed, chunk_no=2, first_line_no=4, rows=[
            ["F-9", "Bo", "XXX", "oops", ""]]))
        await publish(rt, CarrierStatementCompleted(feed_statement_id=feed, chunk_count=2, row_count=3))

        async def feed_imported():
            items = (await client.get("/api/statements")).json()["items"]
            return items[0] if items and items[0]["status"] in ("imported", "published") else None
        st = await eventually(feed_imported, message="feed statement imported")
        assert (st["total"], st["valid"], st["invalid"], st["blank"], st["matched"]) == (3, 1, 1, 1, 1)
        assert st["source"] == "feed" and st["imported_by"] == "feed-bot"
        assert st["status"] == "published"  # every valid line matched: handed over to invoicing at once

        postings = [("term_policy", "1000.00", date(2026, 1, 1)), ("endorsement", "100.00", date(2026, 6, 1)),
                    ("cancellation", "-300.00", date(2026, 9, 1))]
        for bill_type, premium, eff in postings:
            await publish(rt, InvoicePosted(invoice_id=str(uuid.uuid4()), reconciliation_id="r1", policy_id=policy_id,
                                            bill_type=bill_type, effective_date=eff, expiration_date=date(2027, 1, 1),
                                            premium=Decimal(premium), commission=Decimal(0)), producer="invoicing")

        async def posted():
            p = (await client.get(f"/api/policies/{policy_id}")).json()
            return p if p["billed_premium"] == "800.00" else None
        policy = await eventually(posted, message="postings applied")
        assert policy["annualized_premium"] == "1100.00" and policy["version"] == 4
