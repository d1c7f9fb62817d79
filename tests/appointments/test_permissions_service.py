"""Reading appointments' data needs a permission (issue 19 item 1): a user with no groups is refused
every JSON read and every page (a 403 page naming the permission), a licensing user is let in."""

from __future__ import annotations

import pytest

API_READS = {
    "/api/transaction-batches": "appointments:view",
    "/api/transaction-batches/none": "appointments:view",
    "/api/appointment-jobs": "appointments:view",
    "/api/appointment-jobs/none": "appointments:view",
    "/api/appointments/bulk-file/template.csv": "appointments:submit",
    "/api/producer-imports/template.csv": "producers:edit",
    "/api/producer-imports/accepted-values.csv": "producers:edit",
    "/api/producer-imports/none": "producers:view",
    "/api/producer-imports/none/invalid-rows.csv": "producers:view",
    "/api/termination-imports/template.csv": "appointments:terminate",
    "/api/termination-imports/termination-reason-key.csv": "appointments:terminate",
    "/api/termination-imports/none": "appointments:view",
    "/api/termination-imports/none/invalid-rows.csv": "appointments:view",
    "/api/reference-data/companies": "reference_data:view",
    "/api/reference-data/companies/template.csv": "reference_data:view",
    "/api/portals": "producers:view",
}
PAGES = {
    "/": "appointments:view", "/batches/none": "appointments:view", "/producers": "producers:view",
    "/producers/1234567": "producers:view", "/onboarding": "producers:view", "/onboarding/none": "producers:view",
    "/appoint": "appointments:view", "/appoint/jobs/none": "appointments:view", "/report": "appointments:view",
    "/terminations": "appointments:view", "/terminations/none": "appointments:view", "/tasks": "appointments:view",
    "/reference": "reference_data:view",
}


@pytest.fixture
async def appointments(start_service):
    return await start_service("appointments")


async def test_json_reads_refuse_a_user_without_the_permission(appointments, token_for) -> None:
    viewer, licensing = appointments.as_user(token_for("viewer")), appointments.as_user(token_for("licensing"))
    for path, permission in API_READS.items():
        refused = await viewer.get(path)
        assert refused.status_code == 403, path
        assert refused.json() == {"detail": f"missing permission: {permission}"}, path
        assert (await licensing.get(path)).status_code in (200, 404), path


async def test_pages_refuse_a_user_without_the_permission(appointments, token_for) -> None:
    viewer, licensing = appointments.as_user(token_for("viewer")), appointments.as_user(token_for("licensing"))
    for path, permission in PAGES.items():
        refused = await viewer.get(path)
        assert refused.status_code == 403 and f"You do not have the {permission} permission" in refused.text, path
        assert (await licensing.get(path)).status_code in (200, 404), path
    clerk = appointments.as_user(token_for("clerk"))
    assert (await clerk.post("/batches/none/submit")).status_code == 403
    assert (await clerk.post("/tasks/none/done")).status_code == 403


async def test_the_gateway_home_needs_appointments_view_and_retry_needs_submit(gateway, token_for) -> None:
    home = await gateway.as_user(token_for("viewer")).get("/")
    assert home.status_code == 403 and "You do not have the appointments:view permission" in home.text
    assert (await gateway.as_user(token_for("licensing")).get("/")).status_code == 200
    retry = await gateway.as_user(token_for("clerk")).post("/retry-failed")
    assert retry.status_code == 403 and "appointments:submit" in retry.text
    retried = await gateway.as_user(token_for("licensing")).post("/retry-failed")
    assert retried.status_code == 303 and retried.headers["location"] == "/"


async def test_refusals_answer_in_one_dialect(appointments, token_for) -> None:
    """A use case's refusal reaches the one handler: the JSON API answers ``{"detail": ...}`` with the
    words and status it always had; a page answers a page in words with the same status."""
    client = appointments.as_user(token_for("licensing"))
    not_found = {
        ("post", "/api/transaction-batches/none/submit"): "no such batch",
        ("post", "/api/transaction-batches/none/close-not-eligible"): "no such batch",
        ("get", "/api/appointment-jobs/none"): "no such job",
        ("post", "/api/producers/0000000/sync"): "no such producer",
        ("get", "/api/producer-imports/none"): "no such import",
        ("post", "/api/producer-imports/none/process"): "no such import",
        ("post", "/api/termination-imports/none/submit"): "no such import",
        ("post", "/api/manual-tasks/none/done"): "no such task",
        ("get", "/api/reference-data/none"): "unknown reference data kind",
        ("get", "/api/reference-data/none/template.csv"): "unknown reference data kind",
    }
    for (method, path), words in not_found.items():
        r = await client.request(method, path)
        assert (r.status_code, r.json()) == (404, {"detail": words}), path
    invite = await client.post("/api/portal-invites", json={"portal_id": "none", "producer_ids": ["p"]})
    assert (invite.status_code, invite.json()) == (404, {"detail": "no such portal"})
    long_key = await client.post("/api/appointments/bulk", headers={"Idempotency-Key": "k" * 101}, json={
        "requests": [{"npn": "1234567", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["60054"]}]})
    assert (long_key.status_code, long_key.json()) == (422, {"detail": "Idempotency-Key longer than 100 characters"})
    rows = await client.post("/api/reference-data/settings/rows", json=[{"name": "nope", "value": "1"}])
    assert rows.status_code == 422 and list(rows.json()["detail"]) == ["errors"]
    page = await client.get("/batches/none")
    assert page.status_code == 404 and "no such batch" in page.text and "text/html" in page.headers["content-type"]
