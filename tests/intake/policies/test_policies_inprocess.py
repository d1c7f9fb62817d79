"""intake's manual policy creation through HTTP, the database and the real broker."""

from __future__ import annotations

from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def test_hand_made_policy_reaches_invoicing_with_its_user(start_service, token_for) -> None:
    intake = await start_service("intake")
    invoicing = await start_service("invoicing")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Acme")
        r = await client.post("/api/policies", json={"carrier": "Acme", "policy_number": "H-1",
                                                     "client_name": "Hand Made", "estimated_premium": "10.05"})
        assert r.status_code == 201, r.text
        assert r.json()["created_by"] == "clerk" and r.json()["session_id"] is None
        dup = await client.post("/api/policies", json={"carrier": "Acme", "policy_number": "H-1",
                                                       "client_name": "Again"})
        assert dup.status_code == 409
    async with invoicing.as_user(token_for("clerk")) as client:
        async def seen() -> bool:
            return (await client.get("/api/policies")).json()["total"] == 1
        await eventually(seen, message="policy in invoicing")
        assert (await client.get("/api/policies")).json()["items"][0]["estimated_premium"] == "10.05"
