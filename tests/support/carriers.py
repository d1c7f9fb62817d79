"""Carriers are registered explicitly (intake's carrier registry) before statements or policies name them."""

from __future__ import annotations

from typing import Any


async def register_carriers(client: Any, *names: str, **details: Any) -> list[dict[str, Any]]:
    """Register each carrier through intake's API (a user with ``carriers:edit``, e.g. clerk or admin);
    one already registered is left as it is."""
    out = []
    for name in names:
        r = await client.post("/api/carriers", json={"name": name, **details})
        if r.status_code == 409:
            r = await client.get("/api/carriers/resolve", params={"name": name})
        assert r.status_code in (200, 201), r.text
        out.append(r.json())
    return out


def register_carriers_sync(client: Any, *names: str) -> None:
    """The same through a synchronous client (the services run as processes)."""
    for name in names:
        r = client.post("/api/carriers", json={"name": name})
        assert r.status_code in (201, 409), r.text
