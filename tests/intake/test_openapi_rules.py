"""Every JSON route of intake documents its response shape (issue 14, typed responses): a response
model from its capability's ``schemas.py`` for each success code. Read from the app's OpenAPI
document (the app is built, nothing runs)."""

from __future__ import annotations

import json

from intake.app import create_app

COMMON = ("/api/auth/", "/api/me", "/api/dead-letters", "/api/audit")  # agency_common's routes, not intake's
NOT_JSON = (".csv", "/file")


def test_every_json_route_has_a_response_model() -> None:
    doc = create_app().openapi()
    untyped = []
    for path, methods in doc["paths"].items():
        if not path.startswith("/api/") or path.startswith(COMMON) or path.endswith(NOT_JSON):
            continue
        for method, op in methods.items():
            for code, response in op["responses"].items():
                if code.startswith("2"):
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if not schema or "$ref" not in json.dumps(schema):
                        untyped.append(f"{method.upper()} {path} {code}")
    assert untyped == []
