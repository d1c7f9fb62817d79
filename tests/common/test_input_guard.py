"""Input no route should have to think about (issue 19 item 9): a query integer beyond a database column's
range and NUL characters are refused with 422 in words, on every service, before any route runs."""

from __future__ import annotations

from agency_common.web.input_guard import body_problem, path_problem, query_problem

from tests.support.carriers import register_carriers


def test_the_rules() -> None:
    assert query_problem("offset=10&limit=50") is None
    assert query_problem(f"offset={2**70}") == "offset: the number is too large"
    assert query_problem(f"offset=-{2**70}") == "offset: the number is too large"
    assert query_problem(f"offset={2**63 - 1}") is None
    assert path_problem(f"/api/dead-letters/{2**70}/replay").startswith("the address: the number 1180591")
    assert path_problem(f"/api/dead-letters/{2**63 - 1}/replay") is None
    assert query_problem("q=a%00b") == "q: NUL characters are not accepted"
    assert body_problem("application/json", b'{"name": "a\\u0000b"}') == "name: NUL characters are not accepted"
    assert body_problem("application/x-www-form-urlencoded", b"name=a%00b") == "name: NUL characters are not accepted"
    assert body_problem("application/json", b'{"name": "Chen & Sons"}') is None


async def test_huge_offsets_and_nul_characters_get_422_not_500(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("admin")) as admin:
        huge = await admin.get("/api/statements", params={"offset": str(2**70)})
        assert huge.status_code == 422 and huge.json() == {"detail": "offset: the number is too large"}
        replay = await admin.post(f"/api/dead-letters/{2**70}/replay")  # found by schemathesis
        assert replay.status_code == 422 and "too large" in replay.json()["detail"]
        ok = await admin.get("/api/statements", params={"offset": "0"})
        assert ok.status_code == 200
        nul = await admin.post("/api/carriers", json={"name": "Nul\u0000Mutual"})
        assert nul.status_code == 422 and "NUL" in nul.json()["detail"]
        assert (await admin.get("/api/carriers/resolve", params={"name": "Nul\x00Mutual"})).status_code == 422
        # an ordinary request goes through untouched
        assert (await register_carriers(admin, "Plain Mutual"))[0]["name"] == "Plain Mutual"
