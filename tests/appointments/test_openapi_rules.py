"""appointments' JSON routes document their response shapes (issue 14, typed responses): a response
model from the capability's ``schemas.py`` for each success code, capability by capability (those
listed in TYPED so far). Read from the app's OpenAPI document (the app is built, nothing runs)."""

from __future__ import annotations

import json

from appointments.app import create_app

# the capabilities typed so far: every JSON route under these paths (CSV downloads aside)
TYPED = ("/api/transaction-batches", "/api/transactions/close", "/api/appointments", "/api/appointment-jobs",
         "/api/producers", "/api/producer-imports", "/api/termination-imports", "/api/manual-tasks", "/api/portals",
         "/api/portal-invites", "/api/reference-data/{kind}")
NOT_JSON = (".csv",)
UNTYPED_YET: set[tuple[str, str]] = set()
TYPED_ROUTES: set[tuple[str, str]] = set()  # routes typed in a capability not wholly typed yet


def test_every_json_route_of_a_typed_capability_has_a_response_model() -> None:
    doc = create_app().openapi()
    untyped, seen = [], 0
    for path, methods in doc["paths"].items():
        whole = path.startswith(TYPED) and not path.endswith(NOT_JSON)
        for method, op in methods.items():
            if (method, path) in UNTYPED_YET or not (whole or (method, path) in TYPED_ROUTES):
                continue
            for code, response in op["responses"].items():
                if code.startswith("2"):
                    seen += 1
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if not schema or "$ref" not in json.dumps(schema):
                        untyped.append(f"{method.upper()} {path} {code}")
    assert seen >= 25 and untyped == []


def test_the_gateway_documents_its_json_answers() -> None:
    from appointments.gateway.app import create_app as create_gateway

    paths = create_gateway().openapi()["paths"]
    for path, method in (("/api/submissions", "get"), ("/api/submissions/retry-failed", "post")):
        schema = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in json.dumps(schema), path
