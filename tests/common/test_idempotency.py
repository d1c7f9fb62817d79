"""One Idempotency-Key mechanism for every mutating request of every service (agency_common.idempotency):
a repeat (sequential or racing) changes nothing twice and gets the first answer back."""

from __future__ import annotations

import asyncio

from agency_common.idempotency import IdempotencyMiddleware

from tests.support.carriers import register_carriers
from tests.support.inprocess import service_defs

ANN = {"first_name": "Ann", "last_name": "Idem", "state": "TX"}


async def _count(client, last_name: str) -> int:
    return (await client.post("/api/individuals/search", json={"last_name": last_name})).json()["total"]


async def test_a_repeated_create_answers_the_first_and_creates_one(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales:
        first = await sales.post("/api/individuals", json=ANN, headers={"Idempotency-Key": "k-ann-1"})
        again = await sales.post("/api/individuals", json=ANN, headers={"Idempotency-Key": "k-ann-1"})
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
        assert again.json()["replayed"] is True and "replayed" not in first.json()
        assert await _count(sales, "Idem") == 1
        # without a key, or with another key, it is a new request
        assert (await sales.post("/api/individuals", json=ANN, headers={"Idempotency-Key": "k-ann-2"})).status_code == 201
        assert await _count(sales, "Idem") == 2


async def test_racing_repeats_apply_once(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales:
        body = {**ANN, "last_name": "Race"}
        answers = await asyncio.gather(*[
            sales.post("/api/individuals", json=body, headers={"Idempotency-Key": "k-race"}) for _ in range(6)])
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert await _count(sales, "Race") == 1


async def test_a_key_reused_for_another_request_or_by_another_user_is_refused(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        assert (await sales.post("/api/individuals", json=ANN, headers={"Idempotency-Key": "k-x"})).status_code == 201
        other = await sales.post("/api/individuals", json={**ANN, "first_name": "Bob"}, headers={"Idempotency-Key": "k-x"})
        assert other.status_code == 422 and "another request (POST /api/individuals)" in other.json()["error"]
        stolen = await admin.post("/api/individuals", json=ANN, headers={"Idempotency-Key": "k-x"})
        assert stolen.status_code == 422 and "another user" in stolen.json()["error"]
        too_long = await sales.post("/api/individuals", json=ANN, headers={"Idempotency-Key": "k" * 201})
        assert too_long.status_code == 400
        assert await _count(sales, "Idem") == 1


async def test_a_refused_request_is_not_remembered(start_service, token_for) -> None:
    """An error changed nothing: the corrected request with the same key runs."""
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme")
        bad = {"carrier": "Acme", "policy_number": " ", "client_name": "Zed"}
        assert (await clerk.post("/api/policies", json=bad, headers={"Idempotency-Key": "k-pol"})).status_code == 422
        good = {**bad, "policy_number": "P-1"}
        r = await clerk.post("/api/policies", json=good, headers={"Idempotency-Key": "k-pol"})
        assert r.status_code == 201 and r.json()["policy_number"] == "P-1"


async def test_update_policies_by_carrier_applies_once(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("admin")) as admin:
        await register_carriers(admin, "Acme")
        for n in ("U-1", "U-2"):
            assert (await admin.post("/api/policies", json={
                "carrier": "Acme", "policy_number": n, "client_name": "Zed"})).status_code == 201
        body = {"filter": {"carrier": "Acme"}, "changes": {"line_of_business": "Auto"}}
        first = await admin.post("/api/policies/update-by-carrier", json=body, headers={"Idempotency-Key": "k-upd"})
        again = await admin.post("/api/policies/update-by-carrier", json=body, headers={"Idempotency-Key": "k-upd"})
        assert first.status_code == again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
        audits = (await admin.get("/api/policy-update-audits", params={"carrier": "Acme"})).json()["items"]
        assert len(audits) == 1


async def test_a_dashboard_form_resubmitted_creates_once(start_service, token_for) -> None:
    """Every dashboard form carries a hidden idempotency_key (forms.js); a resubmitted form is replayed."""
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme")
        form = {"carrier": "Acme", "policy_number": "F-1", "client_name": "Form Co", "idempotency_key": "k-form"}
        first = await clerk.post("/policies", data=form)
        again = await clerk.post("/policies", data=form)
        assert first.status_code == again.status_code == 303 and again.headers["location"] == first.headers["location"]
        listed = (await clerk.get("/api/policies", params={"carrier": "Acme"})).json()
        assert listed["total"] == 1
        page = await clerk.get("/")
        assert '<script src="/static/common/forms.js"' in page.text
        assert "idempotency_key" in (await clerk.get("/static/common/forms.js")).text


def test_every_service_has_the_middleware() -> None:
    """Structural: the mechanism is on every app, so no mutating route can be left out of it."""
    from agency_common.settings import ServiceSettings

    for name, d in service_defs().items():
        settings: ServiceSettings = d.settings_cls(database_url="sqlite+aiosqlite:///:memory:")
        app = d.create_app(settings)
        assert any(m.cls is IdempotencyMiddleware for m in app.user_middleware), name
