"""A sales record edited on the dashboard (issue 15): its carried fields on a form, errors in words with the
input kept, PII masked without ``pii:reveal`` (blank keeps it) and each reveal recorded, only the changed
fields written and named in its individual's trail; custom values as a person reads them. Real service,
broker and database."""

from __future__ import annotations

import html

from tests.intake.individuals.test_individual_form_dashboard import _field, _shown
from tests.intake.individuals.test_sales_records_dashboard import _run_job

PEOPLE = ("First Name,Last Name,State,SSN,Secondary Email,custom:dropdown:Plan,custom:percent:Discount,"
          "custom:checkbox list:Hobbies\r\n")


async def _record(sales) -> dict:
    r = await sales.post("/api/individuals/import", files={"file": ("p.csv", (
        PEOPLE + "Ann,Lee,TX,123-45-6789,ann@example.com,Gold,15%,golf;fishing\r\n").encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["invalid"] == 0, r.text
    await _run_job(sales, {"state": "TX"})
    (rec,) = (await sales.get("/api/sales-records")).json()["items"]
    return rec


async def test_edit_a_sales_record_on_the_form(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        rec = await _record(sales)
        page = (await sales.get(f"/sales-records/{rec['id']}")).text
        assert f'href="/sales-records/{rec["id"]}/edit"' in page
        assert "<td>Gold</td>" in page, "a dropdown is carried; percent and checkbox list are not (the seed)"

        form = (await sales.get(f"/sales-records/{rec['id']}/edit")).text
        assert form.count('<label for="f-') == 25, "every carried field"
        assert _field(form, "ssn") == "" and 'placeholder="*******6789"' in form
        assert _field(form, "secondary_email") == "ann@example.com"
        assert '<option selected>TX</option>' in form, "the state picked from the list"
        values = {"first_name": "Annie", "last_name": "Lee", "state": "TX", "secondary_email": "ann@example.com",
                  "cell_phone": "555-0100", "ssn": ""}
        r = await sales.post(f"/sales-records/{rec['id']}/edit", data=values)
        assert r.status_code == 303 and r.headers["location"].endswith("?saved=changed")
        page = (await sales.get(r.headers["location"])).text
        assert "Your changes were saved." in page and _shown(page, "first_name") == "Annie"
        assert _shown(page, "cell_phone") == "555-0100" and _shown(page, "ssn") == "*******6789", "kept, masked"
        trail = (await sales.get(f"/api/individuals/{rec['individual_id']}/audit")).json()["items"]
        assert [(a["action"], a["details"]["fields"]) for a in trail] == [
            ("sales_record_update", ["cell_phone", "first_name"])]
        person = (await sales.get(f"/individuals/{rec['individual_id']}")).text
        assert "changed Cell Phone, First Name" in person

        bad = await sales.post(f"/sales-records/{rec['id']}/edit", data=values | {
            "first_name": "", "last_name": " ", "dob": "02/30/1950", "city": "a\x07b", "zip_code": "9" * 21})
        assert bad.status_code == 422
        words = html.unescape(bad.text)
        for reason in ("Name: give a first name or a last name", "Date of Birth: not a date",
                       "City: control characters", "Zip Code: at most 20 characters"):
            assert reason in words, reason
        assert _field(bad.text, "dob") == "02/30/1950" and _field(bad.text, "zip_code") == "9" * 21, "input kept"

        # the admin sees the SSN in clear on the form: recorded
        form = (await admin.get(f"/sales-records/{rec['id']}/edit")).text
        assert _field(form, "ssn") == "123-45-6789"
        reveals = (await admin.get("/api/audit", params={"action": "pii.revealed", "limit": 100})).json()["items"]
        assert [r["subject_id"] for r in reveals if r["detail"].get("shown_in") == "sales_record_form"] == [
            rec["individual_id"]]

    async with intake.as_user(token_for("viewer")) as viewer:
        assert (await viewer.get(f"/sales-records/{rec['id']}/edit")).status_code == 403
        assert (await viewer.post(f"/sales-records/{rec['id']}/edit", data=values)).status_code == 403
    async with intake.as_user(token_for("sales")) as sales:
        assert (await sales.get("/sales-records/nope/edit")).status_code == 404
