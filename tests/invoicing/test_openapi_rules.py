"""Every JSON route of invoicing documents its response shape (issue 14, typed responses): a
response model from the capability's ``schemas.py`` for each success code that has a body. Read from
the app's OpenAPI document (the app is built, nothing runs). The routes every service gets from the
common layer (token, me, dead letters, the audit trail) are not invoicing's to type."""

from __future__ import annotations

import json

from invoicing.app import create_app

COMMON = {"/api/auth/token", "/api/me", "/api/dead-letters", "/api/dead-letters/{dead_letter_id}/replay", "/api/audit"}


def test_every_json_route_has_a_response_model() -> None:
    doc = create_app().openapi()
    untyped, seen = [], 0
    for path, methods in doc["paths"].items():
        if not path.startswith("/api/") or path in COMMON:
            continue
        for method, op in methods.items():
            for code, response in op["responses"].items():
                if code.startswith("2") and code != "204":  # 204: no body to describe
                    seen += 1
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if not schema or "$ref" not in json.dumps(schema):
                        untyped.append(f"{method.upper()} {path} {code}")
    assert seen >= 30 and untyped == []


def test_a_stage_documents_its_background_answer() -> None:
    doc = create_app().openapi()
    for path in ("create-invoices", "create-pay-all", "post", "pay"):
        answers = doc["paths"][f"/api/reconciliations/{{rec_id}}/{path}"]["post"]["responses"]
        assert answers["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobStarted"}
