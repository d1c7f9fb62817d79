"""Every route of every service states the permission it needs (issue 19, item 1): the routes are
read from each app itself, so a new route that forgets its ``require(...)`` or ``page_permission(...)``
fails here. Only the routes below answer without a permission: health, metrics, contracts, the API
docs and logging in and out."""

from __future__ import annotations

from typing import Any

import pytest
from agency_common.web.openapi import api_routes, permissions

from tests.support.inprocess import service_defs

PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", "/asyncapi"), ("GET", "/asyncapi.json"), ("GET", "/asyncapi.yaml"),
    ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("POST", "/api/auth/token"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
    # a session's refresh and logout: the refresh token (or the token being revoked) is the credential
    ("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout"), ("GET", "/auth/refresh"), ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/api/me"),  # who am I: the caller's own login and permissions
}


def built_app(service: str, tmp_path: Any) -> Any:
    """The service's app as it is served (built, nothing started)."""
    spec = service_defs()[service]
    return spec.create_app(spec.settings_cls(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
                                             jwt_secret="route-audit-" + "x" * 40))


def unguarded(service: str, tmp_path: Any) -> list[str]:
    app = built_app(service, tmp_path)
    out = []
    for route in api_routes(app.routes):
        for method in sorted(route.methods):
            if (method, route.path) not in PUBLIC and not permissions(route.dependant):
                out.append(f"{method} {route.path} ({route.endpoint.__module__})")
    return out


@pytest.mark.parametrize("service", ["intake", "invoicing", "appointments", "gateway", "reporting"])
def test_every_route_that_returns_business_data_requires_a_permission(service: str, tmp_path: Any) -> None:
    missing = unguarded(service, tmp_path)
    assert not missing, f"{len(missing)} routes of {service} need a permission:\n" + "\n".join(missing)


def test_the_audit_sees_a_route_without_a_permission(tmp_path: Any) -> None:
    from agency_common.auth import CurrentUser
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/secrets")
    async def secrets(user: CurrentUser) -> dict[str, str]:  # logged in, but no permission
        return {}

    assert [r.path for r in api_routes(app.routes) if not permissions(r.dependant)] == ["/api/secrets"]


@pytest.mark.parametrize("service", ["intake", "invoicing", "appointments", "gateway", "reporting"])
def test_openapi_states_each_operations_security_and_refusals(service: str, tmp_path: Any) -> None:
    """Issue 18 item 4: the bearer and cookie schemes, and on every protected operation its permissions
    and the 401/403 it answers (and 409/422 where they apply), so an integrator needs no source code."""
    doc = built_app(service, tmp_path).openapi()
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "cookie"}
    checked = 0
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if (method.upper(), path) in PUBLIC:
                assert "security" not in op
                continue
            checked += 1
            assert op["security"] == [{"bearer": []}, {"cookie": []}], f"{method} {path}"
            assert op["x-permissions"], f"{method} {path}"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
            assert ", ".join(op["x-permissions"]) in op["responses"]["403"]["description"]
            if method in ("post", "put", "patch", "delete"):
                assert "409" in op["responses"], f"{method} {path}"
            if op.get("parameters") or "requestBody" in op:
                assert "422" in op["responses"], f"{method} {path}"
    assert checked > 0
