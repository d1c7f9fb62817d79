"""A termination file's result read a page at a time (issue 16): the page and
``GET /api/termination-imports/{id}/rows`` show one page of rows by line with the total (all rows, the
rows with errors or the valid ones); what submitting makes is still counted over the whole file."""

from __future__ import annotations

from agency_common.timeutil import utcnow
from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import insert

from tests.appointments.conftest import csv_bytes

ROWS = 600
CA_LIFE = "Life"


def npn(i: int) -> str:
    return f"{5800000 + i}"


async def appointed(runtime, count: int) -> None:
    """Appointed in CA for 60054: the rows the file may terminate."""
    async with runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": npn(i), "state": "CA", "line_of_authority": CA_LIFE, "cocode": "60054", "status": v.APPOINTED,
             "appointed_at": utcnow()} for i in range(count)])


def termination_file() -> bytes:
    # every fifth row names an NPN never appointed: an error
    return csv_bytes("Agent NPN,State(s),Line of Authority,CoCode,Termination Reason Code",
                     *[f"{npn(i) if i % 5 else npn(ROWS + i)},CA,{CA_LIFE},60054," for i in range(ROWS)])


async def test_a_long_termination_result_is_read_a_page_at_a_time(start_service, token_for) -> None:
    svc = await start_service("appointments")
    await appointed(svc.runtime, ROWS)
    client = svc.as_user(token_for("licensing"))
    up = await client.post("/api/termination-imports", files={"file": ("term.csv", termination_file(), "text/csv")})
    assert up.status_code == 201, up.text
    imp = up.json()
    bad = ROWS // 5
    assert (imp["total_rows"], imp["invalid_rows"]) == (ROWS, bad)

    page = await client.get(f"/terminations/{imp['id']}")
    assert page.status_code == 200
    assert f"{ROWS} rows: 1–200" in page.text and f"Agent NPN: {npn(1)};" in page.text
    assert f"Agent NPN: {npn(201)};" not in page.text
    assert f"Submit {ROWS - bad} Transactions" in page.text  # counted over the whole file, not the page
    last = (await client.get(f"/terminations/{imp['id']}", params={"offset": ROWS - 100})).text
    assert f"{ROWS} rows: {ROWS - 99}–{ROWS}" in last and f"Agent NPN: {npn(ROWS - 1)};" in last
    errors = (await client.get(f"/terminations/{imp['id']}", params={"rows": "errors", "limit": 50})).text
    assert f"{bad} rows: 1–50" in errors and "no Appointed appointment" in errors and f"{npn(1)};" not in errors
    assert "rows=errors" in errors  # the pager keeps the filter

    url = f"/api/termination-imports/{imp['id']}/rows"
    api = (await client.get(url, params={"limit": 100, "offset": 200})).json()
    assert (api["total"], api["offset"], len(api["items"])) == (ROWS, 200, 100)
    assert [r["line"] for r in api["items"]][:2] == [202, 203]  # line 1 is the header
    valid = (await client.get(url, params={"rows": "valid", "limit": 1000})).json()
    assert valid["total"] == ROWS - bad and all(r["valid"] and r["transactions"] == 1 for r in valid["items"])
    assert (await client.get(url, params={"rows": "some"})).status_code == 422
    assert (await client.get(url, params={"offset": -1})).status_code == 422
    assert (await client.get("/api/termination-imports/nope/rows")).status_code == 404
    assert (await client.get("/terminations/nope")).status_code == 404
    viewer = svc.as_user(token_for("viewer"))
    assert (await viewer.get(url)).status_code == 403
    assert (await viewer.get(f"/terminations/{imp['id']}")).status_code == 403
