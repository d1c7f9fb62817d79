"""The book of business's search (issue 15): filters, sort, pages with a total, through the API and the
pages, and a policy's own page."""

from __future__ import annotations

import re

from tests.support.carriers import register_carriers


async def _book(client) -> None:  # type: ignore[no-untyped-def]
    await register_carriers(client, "Acme", "Beta Mutual")
    rows = [("Acme", "AUTO-100", "Ann Lee", "Personal Auto", "2026-01-10"),
            ("Acme", "AUTO-101", "Bob Stone", "Personal Auto", "2026-03-01"),
            ("Acme", "HOME-7", "Ann Leeds", "Homeowners", "2026-06-15"),
            ("Beta Mutual", "B-1", "Carla Díaz", "Personal Auto", "2025-12-31")]
    for carrier, number, client_name, line, effective in rows:
        r = await client.post("/api/policies", json={"carrier": carrier, "policy_number": number,
                                                     "client_name": client_name, "line_of_business": line,
                                                     "effective_date": effective})
        assert r.status_code == 201, r.text


async def test_book_search_filters_sorts_and_pages(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await _book(client)

        async def numbers(**params: object) -> tuple[int, list[str]]:
            r = await client.get("/api/policies", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            return body["total"], [p["policy_number"] for p in body["items"]]

        assert await numbers(q="ann lee", sort="policy_number") == (2, ["AUTO-100", "HOME-7"])  # client, any case
        assert await numbers(q="auto-10", sort="-policy_number") == (2, ["AUTO-101", "AUTO-100"])  # any case
        assert await numbers(carrier="  beta   MUTUAL ") == (1, ["B-1"])  # a typed name means the carrier
        assert await numbers(line_of_business="Personal Auto", effective_from="2026-01-01",
                             sort="effective_date") == (2, ["AUTO-100", "AUTO-101"])
        assert await numbers(effective_to="2025-12-31") == (1, ["B-1"])
        assert await numbers(q="%") == (0, []), "a wildcard is a character, not a pattern"
        total, first = await numbers(sort="client_name", limit=2)
        _, second = await numbers(sort="client_name", limit=2, offset=2)
        assert total == 4 and first == ["AUTO-100", "HOME-7"] and second == ["AUTO-101", "B-1"]
        body = (await client.get("/api/policies", params={"limit": 2})).json()
        assert (body["offset"], body["limit"], body["sort"]) == (0, 2, "-created_at")

        bad = await client.get("/api/policies", params={"sort": "ssn"})
        assert bad.status_code == 422 and "sort by one of" in bad.text
        assert (await client.get("/api/policies", params={"offset": 2**70})).status_code == 422
        assert (await client.get("/api/policies", params={"effective_from": "soon"})).status_code == 422


async def test_book_pages_search_and_show_a_policy(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await _book(client)
        page = await client.get("/policies", params={"q": "auto-1", "sort": "policy_number", "limit": 1})
        assert page.status_code == 200
        assert "2 policies: 1–1" in page.text and "AUTO-100" in page.text and "AUTO-101" not in page.text
        assert 'href="?q=auto-1&amp;sort=policy_number&amp;offset=1&amp;limit=1"' in page.text  # Next keeps the search
        bad_date = await client.get("/policies", params={"effective_from": "31/12/2026"})
        assert bad_date.status_code == 200 and "is not a date" in bad_date.text and 'value="31/12/2026"' in bad_date.text

        policy_id = re.search(r'href="/policies/([0-9a-f-]{36})">AUTO-100<', page.text).group(1)
        shown = await client.get(f"/policies/{policy_id}")
        assert shown.status_code == 200 and "Acme AUTO-100" in shown.text and "Ann Lee" in shown.text
        terms = shown.text.split("<h2>Terms</h2>")[1]
        assert "<td>2026-01-10</td>" in terms and "<td>current</td>" in terms, "its term, marked current"
        assert (await client.get("/policies/not-a-policy")).status_code == 404
        assert (await client.get("/policies/update")).status_code == 200, "Update Policies keeps its page"


async def test_book_needs_the_view_permission(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("viewer")) as client:
        assert (await client.get("/api/policies")).status_code == 403
        assert (await client.get("/policies")).status_code == 403
