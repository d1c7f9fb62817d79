"""Dead letters keep no PII in the clear (issue 19 item 2): the stored message is sealed with the PII
key, its error text is masked before it is stored, logged or put in the dead-letter topic's
``x-error`` header (pydantic quotes the offending input: a bad date of birth would be copied there),
and a view shows a masked preview unless the user may reveal PII."""

from __future__ import annotations

import json
import re

from sqlalchemy import Table, func, select, update

from agency_common.db.engine import Database
from agency_common.logging import scrub_text, scrub_value
from agency_common.pii import PiiCipher

SEALED = b"pii-sealed:"
# pydantic: "... [type=date_from_datetime_parsing, input_value='1990-13-45', input_type=str]"
_INPUT_VALUE = re.compile(r"input_value=(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\{.*?\}|\[.*?\]|[^,\]\s]+)")


def seal(payload: bytes, cipher: PiiCipher | None) -> bytes:
    """The message as stored: encrypted when the service has a PII key."""
    if cipher is None or not payload:
        return payload
    return SEALED + cipher.encrypt_bytes(payload)


def unseal(stored: bytes, cipher: PiiCipher | None) -> bytes:
    """The message as it was (rows stored before sealing are returned as they are)."""
    if not stored.startswith(SEALED):
        return stored
    if cipher is None:
        raise ValueError("this dead letter is sealed and no PII key is configured")
    return cipher.decrypt_bytes(stored[len(SEALED):])


def mask_error(text: str) -> str:
    """An error message without the input values it quotes, and with SSN/MBI shapes masked."""
    return scrub_text(_INPUT_VALUE.sub("input_value=***", text))


def preview(payload: bytes, *, reveal: bool, limit: int = 500) -> str:
    """What a dead-letter view shows of a message: PII fields and shapes masked unless revealed."""
    text = payload.decode(errors="replace")
    if reveal:
        return text[:limit]
    try:
        return json.dumps(scrub_value(json.loads(text)), default=str)[:limit]
    except ValueError:
        return scrub_text(text)[:limit]


async def seal_stored(db: Database, table: Table, cipher: PiiCipher | None, chunk: int = 500) -> int:
    """Seal the dead letters stored before sealing existed (and mask their error text); run once at
    start-up. Returns how many rows it sealed."""
    if cipher is None:
        return 0
    sealed, after = 0, 0
    while True:
        async with db.transaction() as session:
            # only the rows not sealed yet: a start-up with nothing to do reads no payload
            rows = (await session.execute(
                select(table.c.id, table.c.payload, table.c.error)
                .where(table.c.id > after, func.substr(table.c.payload, 1, len(SEALED)) != SEALED)
                .order_by(table.c.id).limit(chunk))).all()
            for row in rows:
                await session.execute(update(table).where(table.c.id == row.id).values(
                    payload=seal(bytes(row.payload), cipher), error=mask_error(row.error)))
                sealed += 1
        if len(rows) < chunk:
            return sealed
        after = rows[-1].id
