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
