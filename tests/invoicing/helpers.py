"""Feeding invoicing through the real broker: intake's events as envelopes on their topics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from agency_common.contracts.envelope import EventPayload, make_envelope
from agency_common.contracts.intake import (
    PolicyCreated,
    PolicySnapshot,
    StatementLine,
    StatementLinesPublished,
    StatementPublished,
)
from aiokafka import AIOKafkaProducer

from tests.support.inprocess import eventually

CARRIER = "Acme Mutual"


async def publish(bootstrap: str, payloads: list[EventPayload], envelopes: list[Any] | None = None) -> list[Any]:
    """Publish events as intake would (the same envelope may be passed again: a redelivery)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent = []
    try:
        for env in envelopes or [make_envelope(p, producer="intake", actor="clerk",
                                               correlation_id=str(uuid.uuid4())) for p in payloads]:
            await producer.send_and_wait(env.payload.topic, env.to_bytes(), key=env.payload.key().encode(),
                                         headers=[(k, v.encode()) for k, v in env.headers().items()])
            sent.append(env)
    finally:
        await producer.stop()
    return sent


def policy(n: int, **kw: Any) -> PolicyCreated:
    values: dict[str, Any] = {
        "policy_id": f"p-{n}", "version": 1, "carrier": CARRIER, "policy_number": f"POL-{n:04d}", "client_name": f"Client {n}",
        "line_of_business": "AUTOP", "business_type": "commercial", "mode": "new", "status": "active",
        "effective_date": date(2026, 1, 1), "expiration_date": date(2027, 1, 1), "estimated_premium": Decimal("1000.00"),
        "commission_rate_type": "percent", "commission_rate": Decimal("0.10"),
        "estimated_agency_commission": Decimal("100.00"), "branch": "North", "department": "PL", "unit": "U1",
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}
    values.update(kw)
    return PolicyCreated(policy=PolicySnapshot(**values))


def line(n: int, policy_id: str | None, **kw: Any) -> StatementLine:
    """One line of a statement intake published (policy ``policy_id``, 200.00 premium, 30.00 commission)."""
    values = {"line_id": f"L{n}", "line_no": n + 1, "policy_id": policy_id, "policy_number": f"POL-{n:04d}",
                  "insured_name": f"Insured {n}", "transaction_type": "NBS", "effective_date": date(2026, 1, 1),
                  "expiration_date": date(2027, 1, 1), "premium": Decimal("200.00"), "commission_rate": Decimal("0.15"),
                  "commission_amount": Decimal("30.00")}
    values.update(kw)
    return StatementLine(**values)


def statement(statement_id: str, lines: list[StatementLine], chunk_size: int = 2) -> list[EventPayload]:
    chunks = [lines[i:i + chunk_size] for i in range(0, len(lines), chunk_size)]
    head = StatementPublished(statement_id=statement_id, carrier=CARRIER, statement_date=date(2026, 3, 31),
                              file_name="acme-march.csv", line_count=len(lines), chunk_count=len(chunks),
                              premium_total=sum((ln.premium or 0 for ln in lines), Decimal(0)),
                              commission_total=sum((ln.commission_amount or 0 for ln in lines), Decimal(0)))
    return [head, *[StatementLinesPublished(statement_id=statement_id, chunk_no=i + 1, chunk_count=len(chunks),
                                            lines=c) for i, c in enumerate(chunks)]]


async def wait_policies(client: Any, count: int) -> None:
    async def seen() -> bool:
        return (await client.get("/api/policies")).json()["total"] >= count
    await eventually(seen, message=f"{count} policies in invoicing")


async def open_rec(client: Any, **kw: Any) -> dict[str, Any]:
    r = await client.post("/api/reconciliations", json={"carrier": CARRIER, "address": "1 Main St", **kw})
    assert r.status_code == 201, r.text
    return r.json()


async def entries(http: Any, rec_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await http.get(f"/api/reconciliations/{rec_id}/entries", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def known_carrier(svc: Any, name: str = CARRIER) -> None:
    """intake's registry event for a carrier, applied to invoicing's read model (no intake running)."""
    import uuid

    from agency_common.contracts.envelope import make_envelope
    from agency_common.contracts.intake import CarrierRegistered, CarrierSnapshot
    from agency_common.timeutil import utcnow
    from invoicing.policy_view.carriers import on_carrier_events

    event = CarrierRegistered(carrier=CarrierSnapshot(carrier_id=str(uuid.uuid4()), version=1, name=name,
                                                      updated_at=utcnow()))
    async with svc.runtime.uow(actor="intake") as tx:
        await on_carrier_events(tx, [make_envelope(event, producer="intake", actor="intake", correlation_id="test")])
