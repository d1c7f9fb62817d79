"""Two requests creating the same new client at once (issue 20 item 0: 251 of 1,817 answered 500 on
PostgreSQL): every request succeeds and the client exists once."""

from __future__ import annotations

import asyncio

from intake.models import Client, Policy
from sqlalchemy import func, select

from tests.support.carriers import register_carriers


async def test_racing_requests_for_one_new_client_make_one_client(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Race Mutual")
        answers = await asyncio.gather(*[
            clerk.post("/api/policies", json={"carrier": "Race Mutual", "policy_number": f"R-{n}",
                                              "client_name": "Ada Racer"}) for n in range(12)])
        assert [a.status_code for a in answers] == [201] * 12, [a.text for a in answers if a.status_code != 201]
    async with intake.runtime.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Client).where(Client.name == "Ada Racer")) == 1
        client_ids = set((await s.execute(select(Policy.client_id).where(Policy.carrier == "Race Mutual"))).scalars())
    assert len(client_ids) == 1 and None not in client_ids
