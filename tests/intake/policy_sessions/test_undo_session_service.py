"""Issue 15: undo of a Create-Policies session. The dry run lists exactly what would be voided and why
the others cannot; the undo voids the untouched policies, their lines go back to unmatched, one audit
row, ``PoliciesUpdated`` emitted; a second undo voids nothing more; outside the window refused in
words; 403 without ``policies:create``. Through HTTP, the database and the real broker."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

from agency_common.contracts import topics
from agency_common.contracts.intake import PoliciesUpdated
from agency_common.timeutil import utcnow
from intake.models import Policy, PolicyPosting, PolicySession, StatementLineRow
from sqlalchemy import select, update

from tests.intake.policy_sessions.test_bulk_events_service import outbox
from tests.intake.policy_sessions.test_create_policies_jobs_service import HEADER
from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

NAMES = {"UN-1": "Edna Edited", "UN-2": "Paula Posted", "UN-3": "Otto Other", "UN-4": "Salesy Person",
         "UN-5": "Ulla Untouched", "UN-6": "Uwe Untouched"}


def rows(numbers: list[str]) -> bytes:
    return (HEADER + "".join(f"{n},{NAMES[n]},NBS,01/15/2026,01/15/2027,AUTOP,100.00,10%,10.00\r\n"
                             for n in numbers)).encode()


async def import_file(client, name: str, body: bytes) -> dict:
    r = await client.post("/api/statements", files={"file": (name, body, "text/csv")}, data={"carrier": "Acme"})
    assert r.status_code == 202, r.text
    return await wait_imported(client, r.json()["id"])


async def test_undo_session_voids_only_untouched_policies(start_service, token_for, kafka) -> None:
    intake = await start_service("intake", auto_publish_when_matched=False)
    rt = intake.runtime
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Acme")
        st = await import_file(client, "un.csv", rows(sorted(NAMES)))
        assert st["unmatched"] == 6, st
        r = await client.post(f"/api/statements/{st['id']}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        assert r.status_code == 201 and r.json()["count"] == 6, r.text
        session_id = r.json()["id"]
        async with rt.db.session() as s:
            ids = dict((await s.execute(select(Policy.policy_number, Policy.id))).all())

        # touch four of them, each in its own way
        r = await client.post("/api/policies/update-by-carrier", json={
            "filter": {"carrier": "Acme", "policy_number": "UN-1"}, "changes": {"line_of_business": "Commercial Auto"}})
        assert r.status_code == 200 and r.json()["count"] == 1, r.text
        async with rt.db.transaction() as s:  # as invoicing's InvoicePosted leaves it
            s.add(PolicyPosting(policy_id=ids["UN-2"], invoice_id="INV-1", bill_type="NBS",
                                premium=Decimal("100.00"), commission=Decimal("10.00")))
        other = await import_file(client, "other.csv", rows(["UN-3"]))
        assert other["matched"] == 1, other
    async with intake.as_user(token_for("sales")) as sales:
        r = await sales.post("/api/sales-record-jobs", json={
            "idempotency_key": str(uuid.uuid4()), "sales_record_type": "Medicare", "criteria": {"name": "Salesy"}})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]

        async def done():
            job = (await sales.get(f"/api/sales-record-jobs/{job_id}")).json()
            return job if job["status"] == "done" else None
        assert (await eventually(done, message="sales-record job done"))["created"] == 1

    url = f"/api/policy-sessions/{session_id}/undo"
    async with intake.as_user(token_for("clerk")) as client:
        r = await client.post(url, params={"dry_run": "true", "show": "blocked"})
        assert r.status_code == 200, r.text
        dry = r.json()
        assert (dry["dry_run"], dry["policies"], dry["voidable"], dry["not_voidable"], dry["voided"]) == (
            True, 6, 2, 4, 0), dry
        assert {(i["policy_number"], i["reason"]) for i in dry["items"]} == {
            ("UN-1", "it was edited after it was created"), ("UN-2", "an invoice was posted to it"),
            ("UN-3", "a line of another statement (or another line) is matched to it"),
            ("UN-4", "its client has a sales record made since")}
        assert dry["total"] == 4 and sorted(x["count"] for x in dry["reasons"]) == [1, 1, 1, 1]
        r = await client.post(url, params={"dry_run": "true", "show": "voidable", "limit": 1, "offset": 1})
        page = r.json()
        assert page["total"] == 2 and [i["policy_number"] for i in page["items"]] == ["UN-6"], page
        assert page["items"][0]["voidable"] is True and page["items"][0]["reason"] is None
        async with rt.db.session() as s:  # the dry run wrote nothing
            assert set((await s.scalars(select(Policy.status))).all()) == {"active"}

        r = await client.post(url, params={"dry_run": "false"})
        assert r.status_code == 200, r.text
        done_ = r.json()
        assert (done_["voided"], done_["not_voidable"], done_["total"]) == (2, 4, 4), done_
        assert "2 policies voided" in done_["message"]

        lines = StatementLineRow.__table__.c
        async with rt.db.session() as s:
            status = dict((await s.execute(select(Policy.policy_number, Policy.status))).all())
            assert status == {"UN-1": "active", "UN-2": "active", "UN-3": "active", "UN-4": "active",
                              "UN-5": "voided", "UN-6": "voided"}
            back = (await s.execute(select(lines.policy_number, lines.match_status, lines.policy_id, lines.match_reason)
                                    .where(lines.statement_id == st["id"]).order_by(lines.line_no))).all()
            audits = (await s.execute(select(rt.tables.audit_log).where(
                rt.tables.audit_log.c.action == "policy_session.undone"))).mappings().all()
        assert [(n, m, p) for n, m, p, _ in back] == [
            ("UN-1", "matched", ids["UN-1"]), ("UN-2", "matched", ids["UN-2"]), ("UN-3", "matched", ids["UN-3"]),
            ("UN-4", "matched", ids["UN-4"]), ("UN-5", "unmatched", None), ("UN-6", "unmatched", None)]
        assert "voided by the undo of session" in back[4][3]
        assert (await client.get(f"/api/statements/{st['id']}")).json()["unmatched"] == 2
        assert len(audits) == 1 and audits[0]["actor"] == "clerk" and audits[0]["subject_id"] == session_id
        assert json.loads(audits[0]["detail"])["voided"] == 2

        events = [p for et, _, p in await outbox(rt, topics.INTAKE_POLICIES) if et == PoliciesUpdated.event_type]
        voided = [c for p in events for c in p["changes"] if c["policy"]["status"] == "voided"]
        assert sorted(c["policy"]["policy_number"] for c in voided) == ["UN-5", "UN-6"]
        assert all(c["changed_fields"] == ["status"] and c["policy"]["version"] == 2 for c in voided)

        # idempotent: a second undo voids nothing more and says so
        again = (await client.post(url, params={"dry_run": "false"})).json()
        assert (again["voided"], again["already_voided"]) == (0, 2), again
        assert again["message"] == "nothing more to void: 2 policies already voided; 4 cannot be"

        # the pages: the preview with its button, the confirmation
        page_r = await client.get(f"/policy-sessions/{session_id}")
        assert f"/policy-sessions/{session_id}/undo" in page_r.text
        page_r = await client.get(f"/policy-sessions/{session_id}/undo?show=blocked")
        assert page_r.status_code == 200 and "its client has a sales record made since" in page_r.text
        assert "Void these" not in page_r.text  # nothing left to void

        # outside the window: refused in words
        async with rt.db.transaction() as s:
            await s.execute(update(PolicySession).where(PolicySession.id == session_id).values(
                created_at=utcnow() - timedelta(hours=25)))
        r = await client.post(url, params={"dry_run": "true"})
        assert r.status_code == 409, r.text
        assert r.json()["detail"] == ("this session was created more than 24 hours ago: "
                                      "its policies can no longer be voided by an undo")

    async with intake.as_user(token_for("viewer")) as viewer:
        assert (await viewer.post(url, params={"dry_run": "true"})).status_code == 403
        assert (await viewer.get(f"/policy-sessions/{session_id}/undo")).status_code == 403
    async with intake.as_user(token_for("sales")) as sales:  # policies:view without policies:create
        assert (await sales.post(url, params={"dry_run": "false"})).status_code == 403
        page_r = await sales.get(f"/policy-sessions/{session_id}")
        assert page_r.status_code == 200 and f"/policy-sessions/{session_id}/undo" not in page_r.text


async def test_undo_preview_page_then_confirm(start_service, token_for, kafka) -> None:
    intake = await start_service("intake", auto_publish_when_matched=False)
    async with intake.as_user(token_for("clerk")) as c:
        await register_carriers(c, "Acme")
        st = await import_file(c, "p.csv", rows(["UN-5", "UN-6"]))
        r = await c.post(f"/api/statements/{st['id']}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        session_id = r.json()["id"]
        r = await c.get(f"/policy-sessions/{session_id}/undo")
        assert r.status_code == 200 and "2 of 2 policies would be voided" in r.text and "Void these 2 policies" in r.text
        r = await c.post(f"/policy-sessions/{session_id}/undo")
        assert r.status_code == 200 and "2 policies voided" in r.text, r.text[:2000]
        assert (await c.get(f"/api/statements/{st['id']}")).json()["unmatched"] == 2
        # the lines are unmatched again: their policies can be created again (the voided rows make way)
        r = await c.post(f"/api/statements/{st['id']}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        assert r.status_code == 201 and r.json()["count"] == 2, r.text
        async with intake.runtime.db.session() as s:
            assert sorted((await s.execute(select(Policy.policy_number, Policy.status, Policy.session_id))).all()) == [
                ("UN-5", "active", r.json()["id"]), ("UN-6", "active", r.json()["id"])]


async def test_a_published_session_cannot_be_undone(start_service, token_for, kafka) -> None:
    """Every line matched: the statement went to invoicing by itself, which may invoice its lines."""
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as c:
        await register_carriers(c, "Acme")
        st = await import_file(c, "pub.csv", rows(["UN-5"]))
        r = await c.post(f"/api/statements/{st['id']}/create-policies", json={"idempotency_key": str(uuid.uuid4())})
        session_id = r.json()["id"]
        assert (await c.get(f"/api/statements/{st['id']}")).json()["status"] == "published"
        body = (await c.post(f"/api/policy-sessions/{session_id}/undo", params={"dry_run": "false"})).json()
        assert (body["voided"], body["not_voidable"]) == (0, 1), body
        assert body["message"] == "nothing voided: none of the 1 policies can be"
        assert body["reasons"] == [{"reason": "the session's statement was published to invoicing", "count": 1}]
