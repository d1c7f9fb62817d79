"""The dashboard pages: upload, statement page, create-policies form, sessions, update by carrier,
carrier profiles."""

from __future__ import annotations

from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def test_dashboard_flow(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as c:
        await register_carriers(c, "Acme")
        r = await c.post("/statements", files={"file": ("a.csv", b"Policy #,Named Insured,Premium\nX1,Ann Lee,10\n", "text/csv")},
                         data={"carrier": "Acme"})
        assert r.status_code == 303, r.text
        url = r.headers["location"]
        sid = url.rsplit("/", 1)[1]

        async def imported() -> bool:
            return (await c.get(f"/api/statements/{sid}")).json()["status"] == "imported"
        await eventually(imported, timeout=20)
        for page in ["/", "/statements", url, url + "?validity=valid&match=unmatched", "/policy-sessions",
                     "/policies/update", "/carrier-profiles", "/carrier-profiles?carrier=Acme", url + "/create-policies"]:
            r = await c.get(page)
            assert r.status_code == 200, (page, r.text[:2000])
        r = await c.post(url + "/create-policies", data={"idempotency_key": "k1", "line_of_business": "Auto",
                                                         "ov_2_client_name": "Bob Stone"})
        assert r.status_code == 303, r.text[:2000]
        r = await c.get(r.headers["location"])
        assert r.status_code == 200 and "Bob Stone" in r.text and "X1" in r.text
        # its only line is matched now: the statement went to invoicing by itself
        assert (await c.get(f"/api/statements/{sid}")).json()["status"] == "published"
        r = await c.post("/policies/update", data={"f_carrier": "Acme", "c_status": "lapsed"})
        assert "1 policies updated" in r.text
        r = await c.post("/carrier-profiles", data={"carrier": "Acme", "col_premium": "Prem", "bill_types": "ZZ=audit",
                                                    "prefixes": "AC", "default_commission_rate": "12.5%"})
        assert "saved" in r.text and 'value="12.5%"' in r.text
        r = await c.post("/carrier-profiles", data={"carrier": "Acme", "default_commission_rate": "lots"})
        assert "default commission rate: not a rate" in r.text
        r = await c.post("/carrier-profiles", data={"carrier": "Acme", "bill_types": "ZZ=nonsense"})
        assert "unknown bill type" in r.text
        r = await c.get("/policy-sessions?login=clerk&sort=count")
        assert "#1" in r.text
        # a refusal reaches the one handler: JSON for the API, a page in words for the dashboard
        r = await c.get("/api/statements/nope")
        assert r.status_code == 404 and r.json() == {"detail": "no such statement"}
        r = await c.post(f"/api/statements/{sid}/rematch")
        assert r.status_code == 409 and r.json() == {"detail": "statement is published"}
        for page in ["/statements/nope", "/policy-sessions/nope", "/create-policies-jobs/nope", "/carriers/nope"]:
            r = await c.get(page, headers={"accept": "text/html"})
            assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), page
    async with intake.as_user(token_for("viewer")) as c:  # logged in, no group: every page refused, by name
        for page in ["/", "/statements", url, "/policy-sessions", "/policies/update", "/carrier-profiles",
                     "/carriers"]:
            r = await c.get(page)
            assert r.status_code == 403 and "permission" in r.text, page
        r = await c.post("/policies", data={"carrier": "Acme", "policy_number": "V1", "client_name": "Vee"})
        assert r.status_code == 403 and "policies:create" in r.text
    async with intake.as_user(token_for("sales")) as c:  # reads the book, may not change it
        assert (await c.get("/")).status_code == 200
        r = await c.post("/policies/update", data={"f_carrier": "Acme", "c_status": "active"})
        assert r.status_code == 403 and "policies:edit" in r.text
        assert (await c.get(url)).status_code == 403


async def test_individuals_dashboard(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as c:
        await register_carriers(c, "Acme")
        await c.post("/api/policies", json={"carrier": "Acme", "policy_number": "P-1", "client_name": "Ann Lee",
                                            "line_of_business": "AUTO"})
    async with intake.as_user(token_for("sales")) as c:
        r = await c.get("/individuals?run=1&policy_line_of_business=AUTO")
        assert r.status_code == 200 and "1 individuals found" in r.text and "1</strong> will be created" in r.text
        r = await c.post("/individuals/saved-searches", data={"search_name": "autos", "policy_line_of_business": "AUTO"})
        assert r.status_code == 303
        saved_page = (await c.get(r.headers["location"])).text
        # The saved search's own name is not a criterion: it re-runs with the same result.
        assert "autos" in saved_page and "1 individuals found" in saved_page
        saved_id = r.headers["location"].split("saved_search_id=")[1].split("&")[0]
        assert f'name="saved_search_id" value="{saved_id}"' in saved_page
        r = await c.post("/individuals/sales-records", data={"policy_line_of_business": "AUTO", "idempotency_key": "k",
                                                             "sales_record_type": "Medicare",
                                                             "saved_search_id": saved_id})
        assert r.status_code == 303
        job_url = r.headers["location"]
        jobs = (await c.get("/api/saved-searches")).json()
        listed = jobs["items"] if isinstance(jobs, dict) else jobs
        assert any(j["id"] == job_url.rsplit("/", 1)[1] for s in listed if s["id"] == saved_id for j in s["jobs"]), \
            "the job is recorded next to its saved search"

        async def done() -> bool:
            return 'id="job-status">done' in (await c.get(job_url)).text
        await eventually(done, message="job page shows done")
        assert 'id="job-created">1' in (await c.get(job_url)).text
    async with intake.as_user(token_for("clerk")) as c:  # no sales_enablement:view
        assert (await c.get(job_url)).status_code == 403
