"""A use case's refusal reaches the one handler (``agency_common.web.deps``) and answers as invoicing
always did: the status and the ``{"detail": ...}`` body key for key, JSON for the API and a page in
words for the dashboard."""

from __future__ import annotations

from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies


async def test_refusals_keep_their_status_and_body(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await publish(kafka, [policy(1)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 1)
        rec = await open_rec(c)
        rid = rec["id"]

        missing = await c.get("/api/reconciliations/nope")
        assert (missing.status_code, missing.json()) == (404, {"detail": "reconciliation nope not found"})
        missing = await c.post("/api/reconciliations/nope/pay")
        assert (missing.status_code, missing.json()) == (404, {"detail": "reconciliation nope not found"})
        missing = await c.get("/api/policies/nope")
        assert (missing.status_code, missing.json()) == (404, {"detail": "policy not known to invoicing (yet)"})
        missing = await c.get("/api/jobs/nope")
        assert (missing.status_code, missing.json()) == (404, {"detail": "job nope not found"})

        # a conflict's detail is an object even when it carries nothing but the message
        nothing = await c.post(f"/api/reconciliations/{rid}/post", json={"target": "reconciliation"})
        assert (nothing.status_code, nothing.json()) == (409, {"detail": {"error": "nothing posted to reconcile"}})

        unselected = await c.post(f"/api/reconciliations/{rid}/entries/select", json={"selected": True})
        assert (unselected.status_code, unselected.json()) == (
            422, {"detail": "give ids, or all_matching with the filters"})

        (row,) = await entries(c, rid)
        bad = await c.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "premium_paid": "12x"}]})
        assert bad.status_code == 422
        assert bad.json()["detail"]["error"] == "some rows have errors: nothing was saved"
        assert set(bad.json()["detail"]) == {"error", "errors"} and "premium_paid" in bad.json()["detail"]["errors"][
            str(row["id"])]

        aborted = await c.post(f"/api/reconciliations/{rid}/abort")
        assert aborted.status_code == 200, aborted.text
        closed = await c.patch(f"/api/reconciliations/{rid}/entries", json={"items": [
            {"id": row["id"], "version": row["version"], "rate": "12%"}]})
        assert (closed.status_code, closed.json()) == (
            409, {"detail": {"error": "reconciliation is aborted", "status": "aborted"}})

        page = await c.get("/reconciliations/nope", headers={"Accept": "text/html"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "reconciliation not found" in page.text
