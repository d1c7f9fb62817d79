"""The reconciliations list (issue 15): filtered by carrier, date booked, status and statement, sorted
by a column and paginated on the server with a total; the page keeps its filters in the URL and,
without any, shows what it always showed (every reconciliation, newest first)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.invoicing.helpers import (
    CARRIER,
    known_carrier,
    line,
    open_rec,
    policy,
    publish,
    statement,
    wait_policies,
)
from tests.support.inprocess import eventually

COVE = "Cove Casualty"


async def names(c: Any, **params: Any) -> tuple[int, list[str]]:
    r = await c.get("/api/reconciliations", params=params)
    assert r.status_code == 200, r.text
    return r.json()["total"], [item["name"] for item in r.json()["items"]]


async def test_the_list_filters_sorts_and_pages_on_the_server(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await known_carrier(svc, COVE)
    await publish(kafka, [policy(1)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 1)
        await publish(kafka, statement(str(uuid.uuid4()), [line(1, "p-1")]))  # "acme-march.csv", booked today

        async def opened() -> bool:
            return (await c.get("/api/reconciliations")).json()["total"] == 1
        await eventually(opened, message="the statement's reconciliation")
        await open_rec(c, name="Acme January", date_booked="2026-01-15")
        await open_rec(c, name="Acme February", date_booked="2026-02-15")
        cove = await open_rec(c, carrier=COVE, name="Cove February", date_booked="2026-02-20")
        assert (await c.post(f"/api/reconciliations/{cove['id']}/abort")).status_code == 200

        total, newest_first = await names(c)
        assert total == 4 and newest_first[:3] == ["Cove February", "Acme February", "Acme January"]
        assert await names(c, carrier=COVE) == (1, ["Cove February"])
        assert await names(c, status="aborted") == (1, ["Cove February"])
        assert await names(c, date_from="2026-02-01", date_to="2026-02-28", sort="date_booked", order="asc") == (
            2, ["Acme February", "Cove February"])
        assert await names(c, statement="MARCH") == (1, [newest_first[3]])
        assert await names(c, carrier=CARRIER, date_to="2026-02-15", sort="name", order="asc") == (
            2, ["Acme February", "Acme January"])
        # pages of the same sort never overlap and the total counts every match
        first = await names(c, sort="name", order="asc", limit=2)
        second = await names(c, sort="name", order="asc", limit=2, offset=2)
        assert first[0] == second[0] == 4 and len(set(first[1] + second[1])) == 4
        assert (await c.get("/api/reconciliations", params={"sort": "internal_note"})).status_code == 422

        # the page: the same filters, kept in the URL by the sortable headers and the pager
        page = await c.get("/reconciliations", params={"filter_carrier": CARRIER, "sort": "name", "order": "asc"})
        assert page.status_code == 200
        assert page.text.index("Acme February") < page.text.index("Acme January") and "Cove February" not in page.text
        assert "3 reconciliations" in page.text
        assert "?filter_carrier=Acme+Mutual&sort=name&order=desc" in page.text.replace("&amp;", "&")  # Name flips the order
        default = await c.get("/reconciliations")
        assert "4 reconciliations" in default.text
        assert default.text.index("Cove February") < default.text.index("Acme January")
        # the new-reconciliation form's carrier (after an error) does not filter the list
        prefilled = await c.get("/reconciliations", params={"carrier": COVE})
        assert "4 reconciliations" in prefilled.text
        bad = await c.get("/reconciliations", params={"date_from": "not a date"})
        assert bad.status_code == 200 and "date_from" in bad.text and "4 reconciliations" in bad.text
