"""No PII in the clear in dead letters (issue 19 item 2): a CRM event with a bad date of birth is
dead-lettered by intake with its message sealed at rest, its error text and the DLT's x-error header
without the values it quotes, and every view masked unless the user may reveal PII; replay still
sends the original message."""

from __future__ import annotations

import asyncio
import uuid

from agency_common.contracts import topics
from agency_common.contracts.upstream import IndividualUpserted
from agency_common.dead_letters import SEALED, mask_error, preview, seal_stored, unseal
from agency_common.timeutil import utcnow
from aiokafka import AIOKafkaConsumer
from sqlalchemy import insert, select

from tests.intake.statements.test_feed_events_inprocess import publish
from tests.support.inprocess import eventually

SSN, DOB, MBI = "123-45-6789", "1990-13-45", "1EG4TE5MK73"


async def _read_dlt(kafka: str, topic: str) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for rs in batch.values() for r in rs]
            if records:
                return records
        return []
    finally:
        await consumer.stop()
        await asyncio.sleep(0)


async def test_a_bad_crm_event_is_dead_lettered_without_cleartext_pii(start_service, token_for, kafka) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    ext = "crm-" + uuid.uuid4().hex[:8]
    await publish(rt, IndividualUpserted(external_id=ext, version=1, fields={
        "first_name": "Pat", "last_name": "Leak", "ssn": SSN, "dob": DOB, "medicare_id": MBI}))

    async with intake.as_user(token_for("clerk")) as clerk, intake.as_user(token_for("admin")) as admin:
        async def dead() -> list:
            r = await clerk.get("/api/dead-letters")
            assert r.status_code == 200, r.text
            return r.json()

        rows = await eventually(dead, timeout=60)
        shown = str(rows)
        for value in (SSN, DOB, MBI):
            assert value not in shown, value  # accounting has operations:view, not pii:reveal
        assert "Leak" in rows[0]["payload_preview"]  # what is not PII is still there to read
        page = await clerk.get("/dead-letters")
        assert page.status_code == 200 and DOB not in page.text and SSN not in page.text
        revealed = (await admin.get("/api/dead-letters")).json()
        assert SSN in revealed[0]["payload_preview"]  # an admin may reveal

        # at rest: sealed, and the stored error quotes no input
        dl = rt.tables.dead_letters
        async with rt.db.session() as s:
            stored = (await s.execute(select(dl.c.payload, dl.c.error))).one()
        assert bytes(stored.payload).startswith(SEALED) and SSN.encode() not in bytes(stored.payload)
        assert DOB not in stored.error

        # the dead-letter topic's error header quotes no input either
        records = await _read_dlt(kafka, topics.dlt(IndividualUpserted.topic))
        assert records, "nothing on the dead-letter topic"
        error_header = dict(records[0].headers)["x-error"].decode()
        assert DOB not in error_header and SSN not in error_header

        # replay sends the original message back (unsealed)
        r = await admin.post(f"/api/dead-letters/{rows[0]['id']}/replay")
        assert r.status_code == 200, r.text


def test_error_masking_removes_quoted_inputs_and_pii_shapes() -> None:
    text = ("1 validation error for IndividualIn\ndob\n  Input should be a valid date [type=date_from_datetime_parsing, "
            "input_value='1990-13-45', input_type=str]; ssn 123-45-6789")
    masked = mask_error(text)
    assert "1990-13-45" not in masked and "123-45-6789" not in masked
    assert "input_value=***" in masked and "valid date" in masked
    assert "6789" in masked  # the last four stay, as everywhere else
    p = preview(b'{"fields": {"ssn": "123-45-6789", "dob": "1990-01-02", "first_name": "Pat"}}', reveal=False)
    assert "123-45-6789" not in p and "1990-01-02" not in p and "Pat" in p
    assert "123-45-6789" in preview(b'{"ssn": "123-45-6789"}', reveal=True)


async def test_dead_letters_stored_before_sealing_are_sealed_at_start(start_service) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    dl = rt.tables.dead_letters
    raw = b'{"payload": {"fields": {"ssn": "123-45-6789"}}}'
    async with rt.db.transaction() as s:
        await s.execute(insert(dl), {
            "consumer": "intake", "topic": "upstream.individuals.v1", "partition": 0, "offset": 1, "key": "k",
            "event_id": "e-old", "event_type": "upstream.individual.upserted", "error_type": "ValidationError",
            "error": "bad [input_value='123-45-6789']", "attempts": 1, "payload": raw, "headers": "{}",
            "failed_at": utcnow()})
    assert await seal_stored(rt.db, dl, rt.pii) == 1
    assert await seal_stored(rt.db, dl, rt.pii) == 0  # once
    async with rt.db.session() as s:
        row = (await s.execute(select(dl.c.payload, dl.c.error).where(dl.c.event_id == "e-old"))).one()
    assert bytes(row.payload).startswith(SEALED) and unseal(bytes(row.payload), rt.pii) == raw
    assert "123-45-6789" not in row.error
