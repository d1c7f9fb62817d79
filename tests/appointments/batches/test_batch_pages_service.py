"""A batch read a page of rows at a time (issue 16: a 7,000-row batch page was 1.9 MB and 10 s): the
batch page and ``GET /api/transaction-batches/{id}/transactions`` show one page with the total, sorted by
the header picked, filtered by status; a bad sort or status is refused in words."""

from __future__ import annotations

from decimal import Decimal

from agency_common.timeutil import utcnow
from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import insert

ROWS = 450
STATES = ["TX", "CA", "NY", "FL", "AZ"]


def status_of(i: int) -> str:
    return v.NOT_ELIGIBLE if i % 3 == 0 else v.READY


async def seed_batch(runtime, batch_id: str = "batch-big") -> None:
    now = utcnow()
    async with runtime.db.transaction() as s:
        await s.execute(insert(m.TransactionBatch.__table__), [
            {"id": batch_id, "cocode": "60054", "kind": "appointment", "status": "draft", "source": "api",
             "created_by": "licensing", "created_at": now}])
        await s.execute(insert(m.AppointmentTransaction.__table__), [
            {"id": f"t-{i:04}", "batch_id": batch_id, "kind": "appointment", "npn": f"{5700000 + i}",
             "state": STATES[i % len(STATES)], "line_of_authority": "Life", "cocode": "60054",
             "status": status_of(i), "idempotency_key": f"k-{i}", "updated_at": now, "created_at": now,
             "billable": status_of(i) == v.READY, "jit": False, "for_cause": False,
             "fee": Decimal("12.00") if status_of(i) == v.READY else None} for i in range(ROWS)])


async def test_a_long_batch_is_read_a_page_at_a_time(start_service, token_for) -> None:
    svc = await start_service("appointments")
    await seed_batch(svc.runtime)
    client = svc.as_user(token_for("licensing"))
    url = "/api/transaction-batches/batch-big/transactions"
    expected = sorted((STATES[i % 5], f"{5700000 + i}") for i in range(ROWS))  # today's order: state, NPN

    first = (await client.get(url, params={"limit": 100})).json()
    assert (first["total"], first["offset"], first["limit"], first["sort"]) == (ROWS, 0, 100, "state")
    pages = [first] + [(await client.get(url, params={"limit": 100, "offset": o})).json() for o in (100, 200, 300, 400)]
    assert [len(p["items"]) for p in pages] == [100, 100, 100, 100, 50]
    assert [(t["state"], t["npn"]) for p in pages for t in p["items"]] == expected  # no overlap, no gap
    by_npn = (await client.get(url, params={"sort": "-npn", "limit": 3})).json()
    assert [t["npn"] for t in by_npn["items"]] == [f"{5700000 + i}" for i in (ROWS - 1, ROWS - 2, ROWS - 3)]
    held = (await client.get(url, params={"status": v.NOT_ELIGIBLE, "limit": 1000})).json()
    assert held["total"] == len([i for i in range(ROWS) if i % 3 == 0])
    assert {t["status"] for t in held["items"]} == {v.NOT_ELIGIBLE}
    assert {t["fee"] for t in (await client.get(url, params={"status": v.READY, "limit": 5})).json()["items"]} == {"12.00"}

    bad_sort = await client.get(url, params={"sort": "idempotency_key"})
    assert bad_sort.status_code == 422 and "sort by one of" in bad_sort.text
    bad_status = await client.get(url, params={"status": "Pending"})
    assert bad_status.status_code == 422 and "'Pending' is not a transaction status" in bad_status.text
    assert (await client.get(url, params={"offset": -1})).status_code == 422
    assert (await client.get("/api/transaction-batches/nope/transactions")).status_code == 404
    assert (await svc.as_user(token_for("viewer")).get(url)).status_code == 403

    # the old answer keeps every transaction, and its summary still counts the whole batch
    whole = (await client.get("/api/transaction-batches/batch-big")).json()
    assert len(whole["transactions"]) == ROWS and whole["counts"][v.READY] == ROWS - held["total"]

    page = await client.get("/batches/batch-big")
    assert page.status_code == 200
    assert f"{ROWS} transactions: 1–200" in page.text and ">5700004<" in page.text and ">5700000<" not in page.text
    assert len(page.content) < 250_000  # one page, not the whole batch
    assert 'href="?sort=-state&amp;offset=0&amp;limit=200">State</a> ▲' in page.text  # the header turns it round
    last = (await client.get("/batches/batch-big", params={"offset": 400})).text
    assert f"{ROWS} transactions: 401–{ROWS}" in last and ">5700445<" in last  # TX comes last
    ne = (await client.get("/batches/batch-big", params={"status": v.NOT_ELIGIBLE, "limit": 50, "sort": "npn"})).text
    assert f"{held['total']} transactions: 1–50" in ne and ">5700001<" not in ne and ">5700000<" in ne
    assert "status=Not+Eligible" in ne  # the pager keeps the filter
    odd = await client.get("/batches/batch-big", params={"status": "Pending", "sort": "nonsense"})
    assert odd.status_code == 422 and "is not a transaction status" in odd.text and f"{ROWS} transactions" in odd.text
    assert (await svc.as_user(token_for("viewer")).get("/batches/batch-big")).status_code == 403
