"""Personal data shown in clear or downloaded leaves a row in the audit trail (issue 19 item 6,
NAIC #668 §4D(2)(i)): ``pii.revealed`` per individual shown in clear (field names, never values),
``pii.exported`` per file of individuals with its size, columns and filters. Masked reads and empty
downloads write nothing. Through HTTP on the real service and database."""

from __future__ import annotations

from tests.intake.individuals.test_individuals_import_dashboard import HEADER, _upload


async def _pii_trail(admin) -> dict:
    return (await admin.get("/api/audit", params={"action": "pii", "limit": 500})).json()


async def test_reveals_and_exports_of_individuals_are_in_the_audit_trail(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        ann = (await sales.post("/api/individuals", json={"first_name": "Ann", "last_name": "Lee", "state": "TX",
                                                          "ssn": "123-45-6789", "dob": "1950-02-03"})).json()
        bob = (await sales.post("/api/individuals", json={"first_name": "Bob", "last_name": "Ray", "state": "TX",
                                                          "ssn": "987-65-4321"})).json()
        # sales_ops has no pii:reveal: every read is masked and none is recorded
        assert (await sales.get(f"/api/individuals/{ann['id']}")).json()["ssn"] == "*******6789"
        assert (await sales.post("/api/individuals/search", json={"state": "TX"})).json()["total"] == 2
        assert (await sales.get(f"/individuals/{ann['id']}")).status_code == 200
        assert (await sales.get("/individuals", params={"run": "1", "state": "TX"})).status_code == 200
        assert (await _pii_trail(admin))["total"] == 0

        assert (await admin.get(f"/api/individuals/{ann['id']}")).json()["ssn"] == "123-45-6789"
        found = (await admin.post("/api/individuals/search", json={"state": "TX"})).json()
        assert {i["ssn"] for i in found["items"]} == {"123-45-6789", "987-65-4321"}
        assert "987-65-4321" in (await admin.get(f"/individuals/{bob['id']}")).text
        trail = await _pii_trail(admin)
        reveals = [r for r in reversed(trail["items"]) if r["action"] == "pii.revealed"]
        # oldest first: Ann's record, the search's two (sorted by last name), Bob's page
        assert [r["subject_id"] for r in reveals] == [ann["id"], ann["id"], bob["id"], bob["id"]]
        assert {r["subject_type"] for r in reveals} == {"individual"} and {r["actor"] for r in reveals} == {"admin"}
        assert "ssn" in reveals[0]["detail"]["fields"] and "dob" in reveals[0]["detail"]["fields"]

        exported = await admin.post("/api/individuals/search.csv", json={"state": "TX"})
        assert exported.status_code == 200 and "123-45-6789" in exported.text
        nobody = await admin.post("/api/individuals/search.csv", json={"state": "ZZ"})
        assert nobody.status_code == 200  # an empty download: not recorded
        invalid = await admin.post("/individuals/import", files=_upload(HEADER + "\r\n,,X,Y,222-33-4444,bad,TX,,\r\n"))
        assert invalid.status_code == 200 and 'id="invalid-rows"' in invalid.text

        trail = await _pii_trail(admin)
        exports = [r for r in reversed(trail["items"]) if r["action"] == "pii.exported"]
        assert [r["detail"]["export"] for r in exports] == ["individuals_search", "import_invalid_rows"]
        search_export, invalid_rows = exports
        assert search_export["detail"]["rows"] == 2 and search_export["detail"]["filters"] == {"state": "TX"}
        assert {"ssn", "dob", "medicare_id"} <= set(search_export["detail"]["pii_columns"])
        assert "first_name" in search_export["detail"]["columns"] and search_export["detail"]["pii_in_clear"] is True
        assert invalid_rows["detail"]["rows"] == 1 and "SSN" in invalid_rows["detail"]["pii_columns"]
        assert invalid_rows["detail"]["file"] == "people.csv"
        for value in ("123-45-6789", "987-65-4321", "222-33-4444", "1950-02-03"):
            assert value not in str(trail), "names of fields in the trail, never their values"
        before = trail["total"]
        assert (await sales.get(f"/api/individuals/{bob['id']}")).json()["ssn"] == "*******4321"
        assert (await _pii_trail(admin))["total"] == before, "a masked read adds nothing"
