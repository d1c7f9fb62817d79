"""Individuals, Advanced Search, saved searches, mass creation of sales records and Convert to
Individual through HTTP, the database and the real broker."""

from __future__ import annotations

import csv
import io
import json
import uuid

from agency_common.contracts import topics
from agency_common.contracts.upstream import IndividualUpserted
from sqlalchemy import select

from tests.intake.statements.test_feed_events_inprocess import publish
from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually


async def test_search_save_mass_create_and_convert(start_service, token_for) -> None:
    intake = await start_service("intake")
    rt = intake.runtime
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme", "Zen")
        specs = [("Ann Lee", "AUTO", "active", "2026-01-01", "2027-01-01"),
                 ("Bob Ray", "AUTO", "active", "2026-03-01", "2027-03-01"),
                 ("Cy Dee", "HOME", "active", "2026-01-01", "2027-01-01"),
                 ("Di Fox", "AUTO", "lapsed", "2026-01-01", "2027-01-01")]
        for n, (name, lob, status, eff, exp) in enumerate(specs):
            r = await clerk.post("/api/policies", json={"carrier": "Acme", "policy_number": f"P-{n}", "client_name": name,
                                                        "line_of_business": lob, "status": status,
                                                        "effective_date": eff, "expiration_date": exp})
            assert r.status_code == 201
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        everyone = (await sales.post("/api/individuals/search", json={"sort": "first_name"})).json()
        assert everyone["total"] == 4 and [i["first_name"] for i in everyone["items"]] == ["Ann", "Bob", "Cy", "Di"]
        ann = everyone["items"][0]
        r = await sales.patch(f"/api/individuals/{ann['id']}", json={
            "ssn": "123-45-6789", "dob": "1950-02-03", "state": "TX", "servicing_agent": "Agent A",
            "servicing_agent_user": "agent.a", "secondary_email": "ann@example.com", "primary_email": "p@example.com",
            "custom_fields": [{"name": "Plan", "type": "dropdown", "value": "Gold"},
                              {"name": "Income", "type": "currency", "value": "1000.00"}]})
        assert r.status_code == 200, r.text
        assert r.json()["ssn"] == "*******6789" and r.json()["dob"] == "**********"
        assert (await admin.get(f"/api/individuals/{ann['id']}")).json()["ssn"] == "123-45-6789"
        async with rt.db.session() as s:
            from intake.models import Individual
            stored = (await s.execute(select(Individual.ssn_enc).where(Individual.id == ann["id"]))).scalar_one()
        assert "123-45-6789" not in stored and "123456789" not in stored  # encrypted at rest

        # two policy filters (coverage type + effective date range) combined with AND
        criteria = {"policy_line_of_business": "AUTO", "policy_status": "active",
                    "policy_effective_from": "2026-01-01", "policy_effective_to": "2026-01-31"}
        found = (await sales.post("/api/individuals/search", json=criteria)).json()
        assert [i["first_name"] for i in found["items"]] == ["Ann"]
        renew = (await sales.post("/api/individuals/search", json={"policy_renewal_from": "2027-02-01"})).json()
        assert [i["first_name"] for i in renew["items"]] == ["Bob"]
        assert (await sales.post("/api/individuals/search", json={"state": "TX"})).json()["total"] == 1

        csv_text = (await sales.post("/api/individuals/search.csv", json={"state": "TX"})).content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(csv_text)))
        assert rows[0]["ssn"] == "*******6789" and "123-45" not in csv_text

        assert (await intake.as_user(token_for("viewer")).post("/api/saved-searches", json={
            "name": "x", "criteria": {}})).status_code == 403
        saved = await sales.post("/api/saved-searches", json={"name": "AUTO Jan", "criteria": {"policy_line_of_business": "AUTO"}})
        assert saved.status_code == 201 and saved.json()["owner"] == "sales"

        # the permission pair
        assert (await intake.as_user(token_for("clerk")).post("/api/sales-record-jobs", json={
            "idempotency_key": "x", "sales_record_type": "Medicare", "saved_search_id": saved.json()["id"]})).status_code == 403

        # the confirmation: how many will be created and how many skipped
        preview = (await sales.post("/api/sales-record-jobs/preview", json={"saved_search_id": saved.json()["id"]})).json()
        assert preview["total"] == 3 and preview["will_create"] == 3
        key = str(uuid.uuid4())
        body = {"idempotency_key": key, "sales_record_type": "Medicare", "saved_search_id": saved.json()["id"]}
        r = await sales.post("/api/sales-record-jobs", json=body)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        again = await sales.post("/api/sales-record-jobs", json=body)
        assert again.status_code == 200 and again.json()["id"] == job_id

        async def done():
            j = (await sales.get(f"/api/sales-record-jobs/{job_id}")).json()
            return j if j["status"] == "done" else None
        job = await eventually(done, message="sales record job done")
        assert (job["total"], job["created"], job["skipped"], job["failed"]) == (3, 3, 0, 0)
        second = await sales.post("/api/sales-record-jobs", json=body | {"idempotency_key": str(uuid.uuid4())})
        job2 = second.json()["id"]

        async def done2():
            j = (await sales.get(f"/api/sales-record-jobs/{job2}")).json()
            return j if j["status"] == "done" else None
        assert (await eventually(done2))["skipped"] == 3

        records = (await sales.get("/api/sales-records", params={"individual_id": ann["id"]})).json()["items"]
        assert len(records) == 1
        rec = records[0]
        assert rec["assigned_user"] == "agent.a" and rec["fields"]["secondary_email"] == "ann@example.com"
        assert "primary_email" not in rec["fields"] and rec["fields"]["ssn"] == "*******6789"
        assert [c["name"] for c in rec["custom_fields"]] == ["Plan"]  # currency is not carried
        listing = (await sales.get("/api/saved-searches")).json()["items"]
        assert len(listing[0]["jobs"]) == 2

        # Convert to Individual: the record's values fill the individual's empty fields
        assert (await intake.as_user(token_for("clerk")).patch(
            f"/api/sales-records/{rec['id']}", json={"cell_phone": "1"})).status_code == 403  # no sales_enablement:edit
        r = await sales.patch(f"/api/sales-records/{rec['id']}", json={"cell_phone": "555-0100", "first_name": "Annie"})
        assert r.status_code == 200
        r = await sales.post(f"/api/sales-records/{rec['id']}/convert-to-individual")
        assert r.status_code == 200, r.text
        assert r.json()["filled"] == ["cell_phone"] and r.json()["conflicts_kept_individual"] == ["first_name"]
        assert r.json()["individual"]["cell_phone"] == "555-0100" and r.json()["individual"]["first_name"] == "Ann"
        audit = (await sales.get(f"/api/individuals/{ann['id']}/audit")).json()["items"]
        # every change has its user: the PATCH, the sales record's edit, the conversion
        assert [(a["action"], a["actor"]) for a in audit] == [
            ("update", "sales"), ("sales_record_update", "sales"), ("convert_to_individual", "sales")]
        assert "ssn" in audit[0]["details"]["fields"] and "123-45-6789" not in str(audit)  # names, never values
        assert audit[1]["details"] == {"sales_record_id": rec["id"], "fields": ["cell_phone", "first_name"]}
        assert audit[2]["details"]["conflicts_kept_individual"] == ["first_name"]

        # individuals from the CRM; an older version never overwrites a newer one
        for version, city in ((2, "Dallas"), (1, "Old")):
            await publish(rt, IndividualUpserted(external_id="crm-1", version=version, fields={
                "first_name": "Eve", "last_name": "Crm", "city": city, "ssn": "987-65-4321"},
                custom_fields={"Hobby": "golf", "Kids": {"type": "Number", "value": 2}}))

        async def crm():
            res = (await sales.post("/api/individuals/search", json={"last_name": "Crm"})).json()
            return res["items"][0] if res["total"] == 1 else None
        eve = await eventually(crm, message="CRM individual")
        assert eve["city"] == "Dallas" and eve["ssn"] == "*******4321"
        assert eve["custom_fields"] == [{"name": "Hobby", "type": "text", "value": "golf"},
                                        {"name": "Kids", "type": "number", "value": "2"}]

    async with rt.db.session() as s:
        rows = (await s.execute(select(rt.tables.outbox.c.event_type, rt.tables.outbox.c.payload).where(
            rt.tables.outbox.c.topic == topics.INTAKE_SALES_RECORDS))).all()
    # one bulk event for the job's one chunk (issue 17); the second job created nothing, so sent nothing
    assert [t for t, _ in rows] == ["intake.sales-records.created"]
    payload = json.loads(rows[0].payload)["payload"]
    assert payload["job_id"] == job_id and payload["created_by"] == "sales"
    assert len(payload["records"]) == 3 and all(r["sales_record_type"] == body["sales_record_type"]
                                                for r in payload["records"])


async def test_csv_import_of_individuals(start_service, token_for) -> None:
    intake = await start_service("intake")
    data = ("First Name,Last Name,SSN,Date of Birth,State,custom:dropdown:Plan\r\n"
            "Gil,Ho,111-22-3333,1960-05-06,TX,Gold\r\n,,,,,\r\nBad,Date,,31/31/1960,TX,\r\n").encode("utf-8-sig")
    async with intake.as_user(token_for("sales")) as sales:
        r = await sales.post("/api/individuals/import", files={"file": ("people.csv", data, "text/csv")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total"], body["created"], body["invalid"], body["blank"]) == (3, 1, 1, 1)
        assert body["errors"][0]["line"] == 4 and "dob" in body["errors"][0]["errors"][0]
        found = (await sales.post("/api/individuals/search", json={"last_name": "ho"})).json()["items"][0]
        assert found["ssn"] == "*******3333" and found["custom_fields"][0]["value"] == "Gold"
        r = await sales.post("/api/individuals/import", files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})
        assert r.status_code == 422


async def test_every_search_filter(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk:
        await register_carriers(clerk, "Acme", "Zen")
        for number, name, carrier, lob, status, eff, exp in (
                ("A-1", "Ann Lee", "Acme", "AUTO", "active", "2026-01-01", "2027-01-01"),
                ("Z-1", "Bob Ray", "Zen", "HOME", "lapsed", "2025-06-01", "2026-06-01")):
            r = await clerk.post("/api/policies", json={
                "carrier": carrier, "policy_number": number, "client_name": name, "line_of_business": lob,
                "status": status, "effective_date": eff, "expiration_date": exp})
            assert r.status_code == 201
    async with intake.as_user(token_for("sales")) as sales:
        people = {i["first_name"]: i["id"] for i in (await sales.post("/api/individuals/search", json={})).json()["items"]}
        await sales.patch(f"/api/individuals/{people['Ann']}", json={
            "state": "TX", "city": "Austin", "zip_code": "78701", "record_status": "active", "servicing_agent": "A1",
            "lead_source": "web", "gender": "F", "smoker_status": "N"})
        await sales.patch(f"/api/individuals/{people['Bob']}", json={
            "state": "FL", "city": "Miami", "zip_code": "33101", "record_status": "inactive", "servicing_agent": "A2",
            "lead_source": "referral", "gender": "M", "smoker_status": "Y"})
        r = await sales.post("/api/individuals", json={"first_name": "Cy", "last_name": "Dee", "nickname": "Cyclone"})
        assert r.status_code == 201
        cases = [
            ({"name": "ann"}, {"Ann"}), ({"name": "cyclone"}, {"Cy"}), ({"first_name": "BOB"}, {"Bob"}),
            ({"last_name": "dee"}, {"Cy"}), ({"record_status": "inactive"}, {"Bob"}), ({"state": "TX"}, {"Ann"}),
            ({"city": "Miami"}, {"Bob"}), ({"zip_code": "78701"}, {"Ann"}), ({"servicing_agent": "A2"}, {"Bob"}),
            ({"lead_source": "web"}, {"Ann"}), ({"gender": "M"}, {"Bob"}), ({"smoker_status": "Y"}, {"Bob"}),
            ({"has_sales_record": False}, {"Ann", "Bob", "Cy"}), ({"has_sales_record": True}, set()),
            ({"policy_line_of_business": "HOME"}, {"Bob"}), ({"policy_status": "active"}, {"Ann"}),
            ({"policy_carrier": "Zen"}, {"Bob"}), ({"policy_effective_from": "2026-01-01"}, {"Ann"}),
            ({"policy_effective_to": "2025-12-31"}, {"Bob"}), ({"policy_renewal_from": "2026-12-01"}, {"Ann"}),
            ({"policy_renewal_to": "2026-07-01"}, {"Bob"}),
            ({"policy_line_of_business": "AUTO", "state": "FL"}, set()),  # AND
        ]
        for criteria, expected in cases:
            res = (await sales.post("/api/individuals/search", json=criteria)).json()
            assert {i["first_name"] for i in res["items"]} == expected, criteria
            assert res["total"] == len(expected)
        ordered = (await sales.post("/api/individuals/search", json={"sort": "-last_name"})).json()["items"]
        assert [i["last_name"] for i in ordered] == ["Ray", "Lee", "Dee"]
        assert (await sales.post("/api/individuals/search", json={"sort": "nope"})).status_code == 422


async def test_the_csv_export_reads_the_result_page_by_page(start_service, token_for) -> None:
    """A large export never sits in memory: pages in the search's order, every individual once."""
    from intake.individuals.queries import search_pages
    from intake.individuals.schemas import SearchCriteria

    intake = await start_service("intake")
    names = ["Eve Zed", "Al Bee", "Cy Bee", "Di Ash", "Bo Cole"]
    async with intake.as_user(token_for("sales")) as sales:
        for name in names:
            first, last = name.split()
            assert (await sales.post("/api/individuals", json={"first_name": first, "last_name": last})).status_code == 201
        async with intake.runtime.db.session() as session:
            pages = [[i.first_name for i in page] async for page in search_pages(session, SearchCriteria(), page_size=2)]
        assert pages == [["Di", "Al"], ["Cy", "Bo"], ["Eve"]] or pages == [["Di", "Cy"], ["Al", "Bo"], ["Eve"]]
        text = (await sales.post("/api/individuals/search.csv", json={})).content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["first_name"] for r in rows) == sorted(n.split()[0] for n in names)
        assert [r["last_name"] for r in rows] == ["Ash", "Bee", "Bee", "Cole", "Zed"]
