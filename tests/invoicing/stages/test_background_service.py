"""Post, Pay All Selected and Create/Pay All of a large reconciliation run as background jobs (202,
progress on the job row, idempotent by key); the policy read model takes a consumed batch at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from agency_common.contracts.intake import PolicySnapshot
from sqlalchemy import select

from tests.invoicing.helpers import entries, known_carrier, open_rec, policy, publish, wait_policies
from tests.support.inprocess import eventually


async def _job(c: Any, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]

    async def finished() -> dict | None:
        job = (await c.get(f"/api/jobs/{job_id}")).json()
        return job if job["status"] in ("done", "failed") else None
    job = await eventually(finished, message=f"job {job_id} finished")
    assert job["status"] == "done", job["error"]
    return job


async def _outbox(svc: Any, event_type: str) -> list[dict[str, Any]]:
    from invoicing.models import messaging

    async with svc.runtime.db.session() as s:
        rows = (await s.execute(select(messaging.outbox.c.payload).where(
            messaging.outbox.c.event_type == event_type).order_by(messaging.outbox.c.id))).scalars().all()
    return [json.loads(p) for p in rows]


async def _audit(svc: Any, token_for: Any, rec_id: str, action: str) -> list[dict[str, Any]]:
    async with svc.as_user(token_for("admin")) as admin:
        return (await admin.get("/api/audit", params={"subject_id": rec_id, "action": action})).json()["items"]


async def test_post_and_pay_above_the_threshold_run_as_jobs(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing", background_threshold=2, background_chunk=2)
    await publish(kafka, [policy(i) for i in range(1, 6)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 5)
        rid = (await open_rec(c))["id"]
        r = await c.post(f"/api/reconciliations/{rid}/entries/select", json={"all_matching": True})
        assert r.json()["changed"] == 5
        await _job(c, await c.post(f"/api/reconciliations/{rid}/create-invoices", json={}))

        started = await c.post(f"/api/reconciliations/{rid}/post", headers={"Idempotency-Key": "post-1"}, json={})
        again = await c.post(f"/api/reconciliations/{rid}/post", headers={"Idempotency-Key": "post-1"}, json={})
        assert again.json()["job"]["id"] == started.json()["job"]["id"]  # a repeated click: the same job
        job = await _job(c, started)
        assert job["kind"] == "post" and job["total"] == 5 and job["done"] == 5
        assert job["result"]["posted"] == 5 and job["result"]["reconciliation"]["status"] == "posted"
        assert job["created_by"] == "clerk"
        txs = (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]
        assert {t["status"] for t in txs} == {"posted"} and {t["posted_by"] for t in txs} == {"clerk"}
        # a job's chunks are bulk posts: one InvoicesPosted per chunk, no single events
        assert await _outbox(svc, "invoicing.invoice.posted") == []
        chunks = [e["payload"] for e in await _outbox(svc, "invoicing.invoices.posted")]
        assert [len(c["invoices"]) for c in chunks] == [2, 2, 1] and {c["reconciliation_id"] for c in chunks} == {rid}
        assert sorted(int(i["invoice_id"]) for c in chunks for i in c["invoices"]) == sorted(t["id"] for t in txs)

        # Pay All Selected: one row received in part, the others in full
        r = await c.post(f"/api/reconciliations/{rid}/transactions/select-all")
        assert r.json()["changed"] == 5
        r = await c.patch(f"/api/reconciliations/{rid}/transactions", json={"items": [
            {"invoice_id": txs[0]["id"], "selected": True, "received": "30.00"}]})
        assert r.status_code == 200, r.text
        job = await _job(c, await c.post(f"/api/reconciliations/{rid}/pay", json={"idempotency_key": "pay-1"}))
        assert job["kind"] == "pay" and job["done"] == 5
        assert job["result"]["paid"] == 5 and job["result"]["received_total"] == "430.00"
        head = (await c.get(f"/api/reconciliations/{rid}")).json()
        assert Decimal(head["received_total"]) == Decimal("430.00")
        after = {t["id"]: t for t in (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]}
        assert after[txs[0]["id"]]["status"] == "posted" and after[txs[0]["id"]]["balance"] == "70.00"
        assert sum(t["status"] == "paid" for t in after.values()) == 4
        # one PaymentRecorded per chunk: together they carry every invoice and the received total
        payments = [e["payload"] for e in await _outbox(svc, "invoicing.payment.recorded")]
        assert len(payments) == 3
        assert sorted(int(i) for p in payments for i in p["invoice_ids"]) == sorted(after)
        assert sum(Decimal(p["received_total"]) for p in payments) == Decimal("430.00")
        # the audit trail has one row per job, not one per chunk, with the whole run's totals
        [posted] = await _audit(svc, token_for, rid, "invoices.posted")
        assert posted["actor"] == "clerk" and posted["detail"]["count"] == 5
        assert posted["detail"]["premium_total"] == "5000.00" and posted["detail"]["commission_total"] == "500.00"
        [paid] = await _audit(svc, token_for, rid, "invoices.paid")
        assert paid["detail"] == {"count": 5, "received_total": "430.00", "job_id": job["id"]}
        # a job's own key answers with that job; nothing is paid twice
        replay = await c.post(f"/api/reconciliations/{rid}/pay", json={"idempotency_key": "pay-1"})
        assert replay.json()["replayed"] and replay.json()["job"]["id"] == job["id"]
        assert Decimal((await c.get(f"/api/reconciliations/{rid}")).json()["received_total"]) == Decimal("430.00")


async def test_create_pay_all_in_the_background_after_the_exceptions_popup(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing", background_threshold=1, background_chunk=2)
    await publish(kafka, [policy(i) for i in range(1, 5)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 4)
        rid = (await open_rec(c))["id"]
        rows = await entries(c, rid)
        oc = await c.post(f"/api/reconciliations/{rid}/entries/{rows[1]['id']}/other-commissions",
                          json={"employee": "Sam Seller", "production_role": "csr", "rate_type": "flat",
                                "rate": "10.00", "production_credit": "60.00"})
        assert oc.status_code == 201, oc.text
        await c.post(f"/api/reconciliations/{rid}/entries/select", json={"all_matching": True})
        # the popup comes first, answered at once: nothing is created
        popup = await c.post(f"/api/reconciliations/{rid}/create-pay-all", json={})
        assert popup.status_code == 200 and popup.json()["outcome"] == "exceptions"
        assert (await c.get(f"/api/reconciliations/{rid}/invoices", params={"status": "all"})).json()["total"] == 0
        job = await _job(c, await c.post(f"/api/reconciliations/{rid}/create-pay-all", json={
            "decision": "create_pay_post", "idempotency_key": "cpa"}))
        result = job["result"]
        assert job["kind"] == "create-pay-post" and job["total"] == 4 and job["done"] == 4
        assert (result["created"], result["posted"], result["paid"], result["exception_count"], result["next"]) == (
            3, 3, 3, 1, "post")
        assert result["received_total"] == "300.00"
        txs = (await c.get(f"/api/reconciliations/{rid}/transactions")).json()["items"]
        assert len(txs) == 3 and {t["status"] for t in txs} == {"paid"}
        assert rows[1]["id"] not in {t["entry_id"] for t in txs}  # the exception stays in statement entry
        head = (await c.get(f"/api/reconciliations/{rid}")).json()
        assert Decimal(head["received_total"]) == Decimal("300.00") and head["exception_count"] == 1
        [posted] = await _audit(svc, token_for, rid, "invoices.posted")
        [paid] = await _audit(svc, token_for, rid, "invoices.paid")
        assert (posted["detail"]["count"], paid["detail"]["count"], paid["detail"]["received_total"]) == (
            3, 3, "300.00")


async def test_dashboard_post_above_the_threshold_shows_the_job(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing", background_threshold=1, background_chunk=10)
    await publish(kafka, [policy(i) for i in range(1, 4)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 3)
        rid = (await open_rec(c))["id"]
        await c.post(f"/api/reconciliations/{rid}/entries/select", json={"all_matching": True})
        await _job(c, await c.post(f"/api/reconciliations/{rid}/create-invoices", json={}))
        r = await c.post(f"/reconciliations/{rid}/post-invoices", data={"idempotency_key": "dash-post"})
        assert r.status_code == 303 and f"/reconciliations/{rid}/jobs/" in r.headers["location"]
        job_id = r.headers["location"].rsplit("/", 1)[1].split("?")[0]

        async def posted() -> bool:
            return (await c.get(f"/api/jobs/{job_id}")).json()["status"] == "done"
        await eventually(posted, message="post job done")
        page = await c.get(r.headers["location"])
        assert page.status_code == 200 and "done" in page.text
        assert (await c.get(f"/api/reconciliations/{rid}")).json()["posted_count"] == 3


def _snapshot(n: int, version: int, **kw: Any) -> PolicySnapshot:
    return policy(n, version=version, updated_at=datetime(2026, 1, version, tzinfo=UTC), **kw).policy


async def test_read_model_takes_a_batch_of_snapshots_newest_version_wins(start_service, token_for) -> None:
    from invoicing.consumers import apply_policy_snapshots
    from invoicing.models import PolicyView

    svc = await start_service("invoicing")
    await known_carrier(svc)
    async with svc.as_user(token_for("clerk")) as c:
        rid = (await open_rec(c))["id"]  # opened by hand: new policies of its carrier join it
    async with svc.runtime.uow(actor="intake") as tx:
        changed = await apply_policy_snapshots(tx, [
            _snapshot(1, 1), _snapshot(1, 3, client_name="Third"), _snapshot(1, 2, client_name="Second"),
            _snapshot(2, 1), _snapshot(9, 1, carrier="Other Co")])
    assert changed == 3
    async with svc.runtime.uow(actor="intake") as tx:  # an older version changes nothing; a newer one does
        assert await apply_policy_snapshots(tx, [_snapshot(1, 2, client_name="Old"),
                                                 _snapshot(2, 2, estimated_premium=Decimal("2000.004"))]) == 1
    async with svc.runtime.db.session() as s:
        views = {p.policy_id: p for p in (await s.execute(select(PolicyView))).scalars()}
    assert views["p-1"].client_name == "Third" and views["p-1"].version == 3
    assert views["p-2"].version == 2 and views["p-2"].estimated_premium == Decimal("2000.00")
    async with svc.as_user(token_for("clerk")) as c:
        rows = await entries(c, rid)
    assert sorted(r["policy_number"] for r in rows) == ["POL-0001", "POL-0002"]  # not the other carrier's
    assert {r["commission_paid"] for r in rows} == {"100.00"}


async def test_statement_header_totals_once_every_chunk_is_in_whatever_the_order(start_service) -> None:
    import uuid

    from invoicing.models import Reconciliation
    from invoicing.statement_entry import from_statements

    from tests.invoicing.helpers import statement
    from tests.invoicing.statement_entry.test_statements_service import line

    svc = await start_service("invoicing")
    sid = str(uuid.uuid4())
    head, *chunks = statement(sid, [line(n, None) for n in range(1, 6)], chunk_size=2)
    async with svc.runtime.uow(actor="intake") as tx:
        await from_statements.on_statement_published(tx, head)
    for chunk in (chunks[2], chunks[0]):  # the last chunk first: not complete yet
        async with svc.runtime.uow(actor="intake") as tx:
            await from_statements.on_statement_lines(tx, chunk)
    changed = await _outbox(svc, "invoicing.reconciliation.changed")
    assert len(changed) == 1 and changed[0]["payload"]["entry_count"] == 0  # from the header alone
    async with svc.runtime.uow(actor="intake") as tx:
        assert await from_statements.on_statement_lines(tx, chunks[1]) == 2
    changed = await _outbox(svc, "invoicing.reconciliation.changed")
    assert len(changed) == 2 and changed[1]["payload"]["entry_count"] == 5
    async with svc.runtime.db.session() as s:
        rec = await s.get(Reconciliation, changed[1]["payload"]["reconciliation_id"])
    assert rec.version == 5  # created, the header, then every chunk: a change of the reconciliation each
