"""A background job's service killed -9 mid-job (issue 20 item 3): intake's Create Policies job runs in
one transaction, so a kill leaves nothing of it; the restarted service takes the job over once the dead
holder's lease has run out and finishes it once, with exact counts, and reporting counts every policy
event once."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.faults.conftest import SCALE, FaultReport, scaled
from tests.intake.policy_sessions.test_create_policies_jobs_service import statement
from tests.support.carriers import register_carriers_sync
from tests.support.services import ServiceHarness, api, wait_until

JOB_ENV = {"INTAKE_CREATE_POLICIES_BACKGROUND_THRESHOLD": "10", "INTAKE_CREATE_POLICIES_CHUNK": "100",
           "AGENCY_JOB_LEASE_SECONDS": "6"}


def _job(url: str, token: str, job_id: str) -> dict:
    with api(url, token) as client:
        return client.get(f"/api/create-policies-jobs/{job_id}").json()


def _policy_events(url: str, token: str) -> int:
    with api(url, token) as client:
        rows = client.get("/api/operations/events").json()
    return sum(r["count"] for r in rows if r["event_type"] in ("intake.policies.created", "intake.policy.created"))


@pytest.mark.slow
def test_create_policies_job_killed_mid_job_is_finished_once_after_the_restart(harness: ServiceHarness,
                                                                               token_for) -> None:
    intake = harness.start("intake", extra_env=JOB_ENV)
    reporting = harness.start("reporting")
    token = token_for("clerk")
    lines = scaled(2_000)
    report = FaultReport("intake killed -9 mid Create Policies job, restarted", sent=lines)
    with api(intake.url, token) as client:
        register_carriers_sync(client, "Acme")
        r = client.post("/api/statements", files={"file": ("JOB.csv", statement(lines, "JOB"), "text/csv")},
                        data={"carrier": "Acme"})
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        imported = wait_until(lambda: (b := client.get(f"/api/statements/{sid}").json())["status"] in
                              ("imported", "failed") and b, timeout=180 * SCALE, message="statement imported")
        assert imported["status"] == "imported" and imported["unmatched"] == lines, imported
        r = client.post(f"/api/statements/{sid}/create-policies", json={
            "idempotency_key": str(uuid.uuid4()), "defaults": {"line_of_business": "Personal Auto"}})
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]["id"]

    mid = wait_until(lambda: (j := _job(intake.url, token, job_id))["done"] > 0 and j, timeout=180 * SCALE,
                     interval=0.05, message="the job under way")
    harness.kill("intake")
    assert mid["status"] == "running" and mid["done"] < lines, f"the kill must land mid-job: {mid}"

    report.started = time.monotonic()
    restarted = harness.restart("intake", extra_env=JOB_ENV)
    done = wait_until(lambda: (j := _job(restarted.url, token, job_id))["status"] in ("done", "failed") and j,
                      timeout=300 * SCALE, interval=0.5, message="the job finished after the restart")
    report.recovered()
    assert done["status"] == "done" and done["error"] is None, done
    assert done["attempts"] == 2 and done["session"]["count"] == lines, done
    with api(restarted.url, token) as client:
        assert client.get("/api/policy-sessions").json()["total"] == 1
        created = client.get("/api/policies", params={"limit": 1}).json()["total"]
    wait_until(lambda: _policy_events(reporting.url, token) >= lines, timeout=180 * SCALE, interval=0.5,
               message="reporting counts every policy created")
    time.sleep(2)  # a late duplicate would show up as a count above the lines
    counted = _policy_events(reporting.url, token)
    report.applied, report.lost, report.doubled = created, max(0, lines - created), max(0, counted - lines)
    report.notes.update({"done_before_kill": mid["done"], "policy_events_counted": counted})
    report.publish()
    assert created == lines, "every line made one policy, none twice"
    assert counted == lines, "each policy announced once"
