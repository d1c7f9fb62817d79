"""What each route of a service needs, read from the app itself: the permissions its dependencies state
(``require`` / ``page_permission`` mark them), and the OpenAPI document an integrator reads (issue 18
item 4): the bearer and cookie schemes, and on every protected operation its permissions and the 401 /
403 it answers; 409 / 413 / 422 where they apply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}}
REFUSAL_SCHEMA = {"title": "Refusal", "type": "object", "required": ["detail"],
                  "properties": {"detail": {"title": "Detail", "description": "What was refused, in words "
                                            "(or an object with the fields in error)"}}}


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.165 keeps included routers whole
            yield from api_routes(route.original_router.routes)


def permissions(dependant: Dependant) -> set[str]:
    found = set(getattr(dependant.call, "required_permissions", ()) or ())
    for sub in dependant.dependencies:
        found |= permissions(sub)
    return found


def document_security(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that states each operation's security and refusals."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {})["Refusal"] = REFUSAL_SCHEMA
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "A token from POST /api/auth/token (or the dashboard's login)."},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "agency_token",
                       "description": "The dashboard's login cookie (forms also carry a CSRF token)."},
        }
        for route in api_routes(app.routes):
            needed = sorted(permissions(route.dependant))
            for method in route.methods:
                op = doc.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                responses = op.setdefault("responses", {})
                if needed:
                    op["security"] = [{"bearer": []}, {"cookie": []}]
                    op["x-permissions"] = needed
                    responses.setdefault("401", {"description": "No valid token (log in again)", **ERROR})
                    responses.setdefault("403", {"description": f"Needs the permission {', '.join(needed)}",
                                                 **ERROR})
                if method in ("POST", "PUT", "PATCH", "DELETE"):
                    responses.setdefault("409", {"description": "Conflicts with the current state, or the "
                                                 "idempotency key was used for another request", **ERROR})
                    if "requestBody" in op:
                        responses.setdefault("413", {"description": "The request is larger than the service "
                                                     "accepts", **ERROR})
                if "422" not in responses and (op.get("parameters") or "requestBody" in op):
                    responses["422"] = {"description": "The request is not valid, in words", **ERROR}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
