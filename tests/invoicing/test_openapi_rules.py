"""The JSON routes of invoicing's typed capabilities document their response shape (issue 14, typed
responses): a response model from the capability's ``schemas.py`` for each success code. Read from
the app's OpenAPI document (the app is built, nothing runs). A capability joins TYPED once its
routes are typed; at the end the list is every route under ``/api/``."""

from __future__ import annotations

import json

from invoicing.app import create_app

TYPED = {
    "/api/carriers", "/api/policies", "/api/policies/{policy_id}",  # policy_view
    "/api/reconciliations", "/api/reconciliations/{rec_id}", "/api/reconciliations/{rec_id}/abort-preview",
    "/api/reconciliations/{rec_id}/invoices", "/api/reconciliations/{rec_id}/invoices/{invoice_id}",  # invoices
    "/api/reconciliations/{rec_id}/transactions", "/api/reconciliations/{rec_id}/transactions/select-all",  # payments
}


def test_typed_json_routes_have_a_response_model() -> None:
    doc = create_app().openapi()
    untyped, seen = [], 0
    for path, methods in doc["paths"].items():
        if path not in TYPED:
            continue
        for method, op in methods.items():
            for code, response in op["responses"].items():
                if code.startswith("2"):
                    seen += 1
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if not schema or "$ref" not in json.dumps(schema):
                        untyped.append(f"{method.upper()} {path} {code}")
    assert seen and untyped == []
