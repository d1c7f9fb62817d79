"""Every list's ``offset`` is bounded (issue 19, item 9): an offset past what the database's integer
holds was a 500 (``offset=2**70``); every route that takes one refuses it with 422 instead. Read from
each app itself, so a new list cannot forget; one service is then asked for real."""

from __future__ import annotations

from typing import Any

import pytest
from agency_common.listing import MAX_OFFSET
from agency_common.web.openapi import api_routes

from tests.platform.test_route_permissions import built_app


def _params(dependant: Any) -> list[Any]:
    return [*dependant.query_params, *(p for d in dependant.dependencies for p in _params(d))]


def unbounded_offsets(app: Any) -> list[str]:
    out = []
    for route in api_routes(app.routes):
        for param in _params(route.dependant):
            if param.name != "offset":
                continue
            bounds = [getattr(m, "le", None) for m in param.field_info.metadata]
            if MAX_OFFSET not in bounds:
                out.append(f"{','.join(sorted(route.methods))} {route.path}")
    return out


@pytest.mark.parametrize("service", ["intake", "invoicing", "appointments", "gateway", "reporting"])
def test_every_offset_is_bounded(service: str, tmp_path: Any) -> None:
    unbounded = unbounded_offsets(built_app(service, tmp_path))
    assert not unbounded, f"offsets without le=MAX_OFFSET (use agency_common.web.deps.Offset): {unbounded}"


async def test_a_huge_offset_is_refused_in_words(start_service, token_for) -> None:
    invoicing = await start_service("invoicing")
    async with invoicing.as_user(token_for("clerk")) as client:
        r = await client.get("/api/reconciliations", params={"offset": 2**70})
        assert r.status_code == 422 and "offset" in r.text
        assert (await client.get("/api/reconciliations", params={"offset": MAX_OFFSET})).status_code == 200
