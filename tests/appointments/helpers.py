from __future__ import annotations

import uuid
from datetime import date

from agency_common.timeutil import utcnow
from appointments import models as m
from sqlalchemy import insert


async def add_producer(runtime, npn: str, licenses: list[tuple[str, str, bool]], *, agency_npn: str | None = "8800001",
                       email: str | None = "p@example.com", assignments: list[tuple[str, str, str]] = (),
                       first: str = "Pat", last: str = "Lee") -> str:
    """A synced, active producer with licenses [(state, 'line;line', resident)] straight in the DB."""
    from sqlalchemy import select

    async with runtime.db.transaction() as s:
        agency_id = None
        if agency_npn:
            agency_id = await s.scalar(select(m.Agency.id).where(m.Agency.npn == agency_npn))
        pid = str(uuid.uuid4())
        await s.execute(insert(m.Producer.__table__), {
            "id": pid, "npn": npn, "first_name": first, "last_name": last, "email": email, "agency_id": agency_id,
            "sync_status": "synced", "active": True, "synced_at": utcnow(), "created_by": "test", "created_at": utcnow()})
        for st, lines, resident in licenses:
            await s.execute(insert(m.License.__table__), {
                "producer_id": pid, "npn": npn, "state": st, "license_number": f"{st}-{npn}",
                "license_class": "Insurance Producer", "lines_of_authority": lines, "active": True,
                "resident": resident, "expiration_date": date(2035, 1, 1), "fetched_at": utcnow()})
        for cat, st, cocode in assignments:
            await s.execute(insert(m.ProducerAssignment.__table__), {
                "producer_id": pid, "loa_category": cat, "state": st, "cocode": cocode, "created_at": utcnow()})
    return pid


TX_LH = "Life, Accident and Health;Life Agent"
CA_LH = ("Life;Accident & Health or Sickness (including Disability);Health and Sickness (excluding Disability);"
         "Part time fraternal")
FL_LH = "Life Including Variable Annuity;Health;Life Including Variable Annuity & Health"
