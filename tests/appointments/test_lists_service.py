"""Lists read a page at a time on the server (issue 16): producers, batches and the gateway's
submissions answer ``{total, offset, limit, sort, items}``, sort by the column asked for, refuse an
unknown one in words; their screens page with links that keep the filters and sortable headers, and
keep today's order by default."""

from __future__ import annotations

from datetime import timedelta

from agency_common.timeutil import utcnow
from appointments import models as m
from appointments.gateway.models import Submission
from sqlalchemy import insert

from tests.appointments.helpers import add_producer

LAST_NAMES = ["Young", "Adams", "Moore", "Baker", "Lopez", "Adams", "Nash"]


async def test_producers_page_by_page_sorted_with_a_total(start_service, token_for) -> None:
    svc = await start_service("appointments")
    for i, last in enumerate(LAST_NAMES):
        await add_producer(svc.runtime, f"560000{i}", [], last=last)
    client = svc.as_user(token_for("licensing"))
    everyone = (await client.get("/api/producers")).json()
    by_name = sorted((last, f"560000{i}") for i, last in enumerate(LAST_NAMES))
    assert (everyone["total"], everyone["sort"]) == (7, "name")
    assert [(p["last_name"], p["npn"]) for p in everyone["items"]] == by_name  # today's order: last name, NPN

    pages = [(await client.get("/api/producers", params={"limit": 3, "offset": o})).json() for o in (0, 3, 6)]
    assert [p["total"] for p in pages] == [7, 7, 7] and [len(p["items"]) for p in pages] == [3, 3, 1]
    assert [x["npn"] for p in pages for x in p["items"]] == [npn for _last, npn in by_name]  # no overlap, no gap
    newest_npn = (await client.get("/api/producers", params={"sort": "-npn", "limit": 2})).json()
    assert [p["npn"] for p in newest_npn["items"]] == ["5600006", "5600005"]
    adams = (await client.get("/api/producers", params={"q": "adam"})).json()
    assert adams["total"] == 2 and {p["last_name"] for p in adams["items"]} == {"Adams"}
    refused = await client.get("/api/producers", params={"sort": "ssn"})
    assert refused.status_code == 422 and "sort by one of" in refused.json()["detail"]

    page = (await client.get("/producers", params={"q": "a", "limit": 2, "sort": "-npn"})).text
    assert "producers: 1–2" in page
    assert 'href="?q=a&amp;sort=-npn&amp;offset=2&amp;limit=2">Next</a>' in page  # the search is kept
    assert 'href="?q=a&amp;sort=npn&amp;offset=0&amp;limit=2">NPN</a> ▼' in page  # the header turns it round
    assert "5600006" in page and "5600000" not in page
    default = (await client.get("/producers")).text
    assert "7 producers" in default and "Next</a>" not in default and default.index("Adams") < default.index("Young")
    odd = await client.get("/producers", params={"sort": "nonsense"})  # a page never fails on it: the default order
    assert odd.status_code == 200 and odd.text.index("Adams") < odd.text.index("Young")


async def test_batches_and_gateway_submissions_page_by_page(start_service, gateway, token_for) -> None:
    svc = await start_service("appointments")
    now = utcnow()
    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.TransactionBatch.__table__), [
            {"id": f"batch-{i:02}", "cocode": cocode, "kind": "appointment", "status": "draft", "source": "api",
             "created_by": "licensing", "created_at": now - timedelta(minutes=i)}
            for i, cocode in enumerate(["60054", "56030", "60054", "11111", "60055"])])
    client = svc.as_user(token_for("licensing"))
    newest = (await client.get("/api/transaction-batches", params={"limit": 2})).json()
    assert (newest["total"], newest["sort"]) == (5, "-created_at")
    assert [b["id"] for b in newest["items"]] == ["batch-00", "batch-01"]  # today's order: the newest first
    rest = (await client.get("/api/transaction-batches", params={"limit": 2, "offset": 4})).json()
    assert [b["id"] for b in rest["items"]] == ["batch-04"]
    by_cocode = (await client.get("/api/transaction-batches", params={"sort": "cocode"})).json()
    assert [b["cocode"] for b in by_cocode["items"]] == ["11111", "56030", "60054", "60054", "60055"]
    assert (await client.get("/api/transaction-batches", params={"sort": "fee"})).status_code == 422
    home = (await client.get("/", params={"limit": 2})).text
    assert "5 batches: 1–2" in home and 'href="?sort=-created_at&amp;offset=2&amp;limit=2">Next</a>' in home
    assert 'href="?sort=cocode&amp;offset=0&amp;limit=2">CoCode</a>' in home

    async with gateway.runtime.db.transaction() as s:
        await s.execute(insert(Submission.__table__), [
            {"idempotency_key": f"k-{i}", "transaction_id": f"t-{i}", "batch_id": "b-1" if i < 4 else "b-2",
             "state": st, "kind": "appointment", "npn": "5600001", "status": "answered", "attempts": i % 3,
             "for_cause": False, "received_at": now + timedelta(seconds=i)}
            for i, st in enumerate(["TX", "CA", "NY", "FL", "PA", "OH"])])
    gw = gateway.as_user(token_for("licensing"))
    first = (await gw.get("/api/submissions", params={"batch_id": "b-1", "limit": 3})).json()
    assert (first["total"], first["sort"]) == (4, "received_at")
    assert [x["state"] for x in first["items"]] == ["TX", "CA", "NY"]  # today's order: as received
    by_state = (await gw.get("/api/submissions", params={"sort": "-state"})).json()
    assert by_state["total"] == 6 and [x["state"] for x in by_state["items"]] == ["TX", "PA", "OH", "NY", "FL", "CA"]
    assert (await gw.get("/api/submissions", params={"sort": "secret"})).status_code == 422
    gw_home = (await gw.get("/", params={"limit": 4})).text
    assert "6 submissions: 1–4" in gw_home and gw_home.index(">OH<") < gw_home.index(">NY<")  # the newest first
    assert ">CA<" not in gw_home and ">TX<" not in gw_home
    assert 'href="?sort=state&amp;offset=0&amp;limit=4">State</a>' in gw_home
