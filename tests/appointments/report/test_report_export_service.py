"""The appointment report's export streamed (issue 16): rows read from the database a chunk at a time by
the report's key and written as each chunk comes, every matching row once in the report's order, even
when appointments change while it streams."""

from __future__ import annotations

from appointments import models as m
from appointments.domain import vocabulary as v
from appointments.report import report
from sqlalchemy import insert

from tests.appointments.helpers import add_producer

COUNT = 230
STATES = ("CA", "NY", "TX")


def npn(i: int) -> str:
    return f"{5900000 + i}"


async def appoint(runtime, rows: list[tuple[str, str, str]]) -> None:
    async with runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": n, "state": st, "line_of_authority": "Life", "cocode": cocode, "status": v.APPOINTED}
            for n, st, cocode in rows])


def csv_lines(body: bytes) -> list[str]:
    return body.decode("utf-8-sig").strip().split("\r\n")


async def test_the_export_streams_every_row_a_chunk_at_a_time(start_service, token_for) -> None:
    svc = await start_service("appointments")
    await add_producer(svc.runtime, npn(0), [], first="Ana", last="Reyes")
    await appoint(svc.runtime, [(npn(i), STATES[i % 3], "60054") for i in range(COUNT)])
    expected = [f"{'Ana Reyes' if i == 0 else ''},{npn(i)},{STATES[i % 3]},Life,60054" for i in range(COUNT)]

    client = svc.as_user(token_for("licensing"))
    whole = await client.get("/api/appointments", params={"format": "csv", "status": v.APPOINTED})
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/csv")
    lines = csv_lines(whole.content)
    assert lines[0] == ",".join(report.COLUMNS) and lines[1:] == expected  # the report's order, each row once
    ca = csv_lines((await client.get("/api/appointments", params={"format": "csv", "state": "CA"})).content)
    assert ca[1:] == [x for x in expected if ",CA," in x]
    assert (await svc.as_user(token_for("viewer")).get("/api/appointments", params={"format": "csv"})).status_code == 403

    # Read a chunk at a time: the header, then one block per 50 rows.
    blocks, added = [], False
    async for block in report.export(svc.runtime.db, report.Filters(), page_size=50):
        blocks.append(block)
        if len(blocks) == 2 and not added:
            # an appointment that sorts before the rows already written: an offset would now repeat one
            await appoint(svc.runtime, [("1000000", "CA", "60054")])
            added = True
    assert len(blocks) == 1 + -(-COUNT // 50)
    assert [len(csv_lines(b)) for b in blocks[1:]] == [50] * (COUNT // 50) + [COUNT % 50]
    rows = csv_lines(b"".join(blocks))[1:]
    assert rows == expected  # none twice, none skipped (the one added before the cursor is not in this export)
