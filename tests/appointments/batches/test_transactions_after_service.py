"""The transaction list read by key (issue 16: a page deep in 90,000 transactions): ``after`` the last id
of a page gives the page that follows, the same rows as by offset in every sort, with the filter's total;
a cursor that names nothing, or a bad sort, is refused in words."""

from __future__ import annotations

from datetime import timedelta

from agency_common.timeutil import utcnow
from appointments import models as m
from appointments.domain import vocabulary as v
from sqlalchemy import insert

ROWS = 130
STATES = ["TX", "CA", "NY"]


async def test_pages_after_a_key_match_pages_by_offset(start_service, token_for) -> None:
    svc = await start_service("appointments")
    now = utcnow()
    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.TransactionBatch.__table__), [
            {"id": "batch-k", "cocode": "60054", "kind": "appointment", "status": "draft", "source": "api",
             "created_by": "licensing", "created_at": now}])
        await s.execute(insert(m.AppointmentTransaction.__table__), [
            {"id": f"t-{i:04}", "batch_id": "batch-k", "kind": "appointment", "npn": f"{5600000 + i % 40}",
             "state": STATES[i % 3], "line_of_authority": "Life", "cocode": "60054",
             "status": v.READY if i % 4 else v.SUBMITTED, "idempotency_key": f"k-{i}", "updated_at": now,
             "created_at": now - timedelta(seconds=i // 3),  # three rows share each time: the id breaks ties
             "billable": True, "jit": False, "for_cause": False} for i in range(ROWS)])
    client = svc.as_user(token_for("licensing"))

    for params in ({}, {"sort": "state"}, {"sort": "-npn"}, {"status": "any", "sort": "created_at"}):
        by_offset = (await client.get("/api/transactions", params=params | {"limit": 1000})).json()
        ids, seen, after = [t["id"] for t in by_offset["items"]], [], ""
        while True:
            got = (await client.get("/api/transactions", params=params | {"limit": 25, "after": after})).json()
            assert got["total"] == by_offset["total"]  # the filter's total, not what is left
            if not got["items"]:
                break
            seen += [t["id"] for t in got["items"]]
            after = got["items"][-1]["id"]
        assert seen == ids, params  # the same rows in the same order: none twice, none skipped
    total = by_offset["total"]
    assert total == ROWS

    held = (await client.get("/api/transactions", params={"limit": 1000})).json()
    assert held["total"] == len([i for i in range(ROWS) if i % 4])
    skip = (await client.get("/api/transactions", params={"after": held["items"][9]["id"], "offset": 5,
                                                          "limit": 3})).json()
    assert [t["id"] for t in skip["items"]] == [t["id"] for t in held["items"][15:18]]  # offset counts from it

    unknown = await client.get("/api/transactions", params={"after": "nope"})
    assert unknown.status_code == 422 and "names no transaction" in unknown.text
    bad_sort = await client.get("/api/transactions", params={"after": "t-0001", "sort": "fee"})
    assert bad_sort.status_code == 422 and "sort by one of" in bad_sort.text
    assert (await svc.as_user(token_for("viewer")).get("/api/transactions", params={"after": "t-0001"})).status_code == 403
