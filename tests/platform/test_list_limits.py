"""Every API list's ``limit`` has a lower bound (issue 19, item 9): schemathesis found ``GET /api/dead-letters
?limit=-1578`` answering 500 on PostgreSQL (its LIMIT must not be negative; SQLite reads it as no limit).
Read from each app itself, so a new list cannot forget; one service is then asked for real."""

from __future__ import annotations

from typing import Any

import pytest
from agency_common.web.openapi import api_routes

from tests.platform.test_list_offsets import _params
from tests.platform.test_route_permissions import built_app


def unbounded_limits(app: Any) -> list[str]:
    out = []
    for route in api_routes(app.routes):
        if not route.path.startswith("/api/"):
            continue  # pages clamp their own page size
        for param in _params(route.dependant):
            if param.name == "limit" and not any(
                    (getattr(m, "ge", None) or 0) >= 1 for m in param.field_info.metadata):
                out.append(f"{','.join(sorted(route.methods))} {route.path}")
    return out


@pytest.mark.parametrize("service", ["intake", "invoicing", "appointments", "gateway", "reporting"])
def test_every_limit_has_a_lower_bound(service: str, tmp_path: Any) -> None:
    unbounded = unbounded_limits(built_app(service, tmp_path))
    assert not unbounded, f"limits without ge=1 (Query(ge=1, le=...)): {unbounded}"


async def test_a_negative_limit_is_refused_in_words(start_service, token_for) -> None:
    reporting = await start_service("reporting")
    async with reporting.as_user(token_for("admin")) as client:
        for path in ("/api/dead-letters", "/api/team-screens/snapshots"):
            r = await client.get(path, params={"limit": -1578})
            assert r.status_code == 422 and "limit" in r.text, path
            assert (await client.get(path, params={"limit": 1})).status_code == 200, path
