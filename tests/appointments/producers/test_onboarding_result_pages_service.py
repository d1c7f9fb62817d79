"""The onboarding result read a page at a time on the server (issue 16: a 10,000-row result was one
2.9 MB page): the page and ``GET /api/producer-imports/{id}/rows`` show one page of rows by line with
the total, all rows, the rows with errors or the valid ones."""

from __future__ import annotations

from tests.appointments.conftest import csv_bytes
from tests.appointments.producers.test_onboarding_service import HEADER

ROWS = 2500


def big_file() -> bytes:
    lines = [f"8800001,First{i},Last{i},{7300000 + i},p{i}@example.com,,,,,," if i % 10 else
             f"9999999,First{i},Last{i},{7300000 + i},,,,,,,"  # every tenth row: an unknown agency
             for i in range(ROWS)]
    return csv_bytes(HEADER, *lines)


async def test_a_long_onboarding_result_is_read_a_page_at_a_time(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("licensing"))
    up = await client.post("/api/producer-imports", files={"file": ("big.csv", big_file(), "text/csv")})
    assert up.status_code == 201
    imp = up.json()
    assert (imp["total_rows"], imp["invalid_rows"]) == (ROWS, ROWS // 10)

    page = await client.get(f"/onboarding/{imp['id']}")
    assert page.status_code == 200
    assert f"{ROWS} rows: 1–200" in page.text and "Last0;" in page.text and "Last200;" not in page.text
    assert len(page.content) < 200_000  # one page, not the whole file
    last = (await client.get(f"/onboarding/{imp['id']}", params={"offset": ROWS - 100})).text
    assert f"{ROWS} rows: {ROWS - 99}–{ROWS}" in last and f"Last{ROWS - 1};" in last
    errors = (await client.get(f"/onboarding/{imp['id']}", params={"rows": "errors", "limit": 50})).text
    assert f"{ROWS // 10} rows: 1–50" in errors and "is not a known agency" in errors and "Last1;" not in errors
    assert "rows=errors" in errors  # the pager keeps the filter

    api = (await client.get(f"/api/producer-imports/{imp['id']}/rows", params={"limit": 100, "offset": 200})).json()
    assert (api["total"], api["offset"], len(api["items"])) == (ROWS, 200, 100)
    assert [r["line"] for r in api["items"]][:2] == [202, 203]  # line 1 is the header
    valid = (await client.get(f"/api/producer-imports/{imp['id']}/rows", params={"rows": "valid"})).json()
    assert valid["total"] == ROWS - ROWS // 10 and all(r["valid"] for r in valid["items"])
    assert (await client.get(f"/api/producer-imports/{imp['id']}/rows", params={"rows": "some"})).status_code == 422
    assert (await client.get("/api/producer-imports/nope/rows")).status_code == 404
    assert (await svc.as_user(token_for("viewer")).get(f"/api/producer-imports/{imp['id']}/rows")).status_code == 403

    done = (await client.post(f"/api/producer-imports/{imp['id']}/process")).json()
    assert done["producers_created"] == ROWS - ROWS // 10
    first = (await client.get(f"/api/producer-imports/{imp['id']}/rows", params={"limit": 2})).json()["items"]
    assert [r["outcome"] for r in first] == [None, "created"]  # row 0 has an unknown agency: not processed
