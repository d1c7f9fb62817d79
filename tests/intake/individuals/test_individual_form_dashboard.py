"""Individuals created and edited on the dashboard (issue 15): every field on a form, errors in words beside
the input that caused them with the input kept, PII masked for a user without ``pii:reveal`` (left blank it
stays as stored) and each reveal recorded, only changed fields written and named in the trail, a stale form
refused; an individual's page lists its policies and sales records a page at a time with totals and shows
custom values as a person reads them. Real service, broker and database."""

from __future__ import annotations

import html
import re
import uuid

from tests.support.carriers import register_carriers
from tests.support.inprocess import eventually

FORM = {"first_name": "Ann", "last_name": "Lee", "state": "TX", "city": "Austin", "ssn": "123-45-6789",
        "dob": "1950-02-03", "record_status": "active", "title": "",
        "cf_name_0": "Discount", "cf_type_0": "percent", "cf_value_0": "15%",
        "cf_name_1": "Newsletter", "cf_type_1": "checkbox", "cf_value_1": "yes",
        "cf_name_2": "Hobbies", "cf_type_2": "checkbox_list", "cf_value_2": "golf; fishing",
        "cf_name_3": "", "cf_type_3": "text", "cf_value_3": ""}


def _field(page: str, name: str) -> str:
    """The value= of the form's input called ``name``."""
    m = re.search(rf'<input id="f-{name}" name="{name}" (?:type="date" )?value="([^"]*)"', page)
    assert m, name
    return html.unescape(m.group(1))


def _shown(page: str, name: str) -> str:
    m = re.search(rf'<td id="f-{name}">([^<]*)</td>', page)
    assert m, name
    return html.unescape(m.group(1))


async def _pii_trail(admin) -> list[dict]:
    return (await admin.get("/api/audit", params={"action": "pii.revealed", "limit": 500})).json()["items"]


async def _create(client, **changes: str) -> str:
    r = await client.post("/individuals/new", data=FORM | changes)
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/individuals/([0-9a-f-]{36})\?saved=created", r.headers["location"])
    assert match, r.headers["location"]
    return match.group(1)


async def test_create_and_edit_an_individual_on_the_form(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        assert 'href="/individuals/new"' in (await sales.get("/individuals")).text
        blank = await sales.get("/individuals/new")
        assert blank.status_code == 200 and "New individual" in blank.text
        for label in ("Date of Birth", "SSN", "Medicare Beneficiary ID", "Driver&#39;s License Number", "Smoker Status"):
            assert label in blank.text, label

        ind_id = await _create(sales)
        page = (await sales.get(f"/individuals/{ind_id}?saved=created")).text
        assert "The individual was created." in page and "<h1>Lee, Ann</h1>" in page
        assert _shown(page, "ssn") == "*******6789" and "123-45-6789" not in page, "masked without pii:reveal"
        assert _shown(page, "city") == "Austin"
        custom = page.split('id="custom-fields"')[1].split("</table>")[0]
        assert "<td>15 %</td>" in custom and "<td>Yes</td>" in custom and "<td>golf, fishing</td>" in custom
        assert "<td>checkbox list</td>" in custom

        # the edit form: SSN and DOB masked as hints, blank; the custom values as they are typed
        form = (await sales.get(f"/individuals/{ind_id}/edit")).text
        assert _field(form, "ssn") == "" and 'placeholder="*******6789"' in form
        assert "Stored as *******6789: leave blank to keep it" in form
        assert _field(form, "city") == "Austin" and 'value="golf; fishing"' in form and 'value="15 %"' in form
        assert 'name="version" value="1"' in form
        edited = FORM | {"city": "Dallas", "ssn": "", "dob": "", "version": "1"}
        r = await sales.post(f"/individuals/{ind_id}/edit", data=edited)
        assert r.status_code == 303 and r.headers["location"].endswith("?saved=changed")
        page = (await sales.get(r.headers["location"])).text
        assert _shown(page, "city") == "Dallas" and "Your changes were saved." in page
        assert "<td>changed City</td>" in page, "only the changed field, named as the form names it"
        kept = (await admin.get(f"/api/individuals/{ind_id}")).json()
        assert (kept["ssn"], kept["dob"], kept["city"], kept["version"]) == ("123-45-6789", "1950-02-03", "Dallas", 2)
        same = await sales.post(f"/individuals/{ind_id}/edit", data=edited | {"version": "2"})
        assert same.headers["location"].endswith("?saved=unchanged")
        assert "Nothing was changed." in (await sales.get(same.headers["location"])).text
        assert [r for r in await _pii_trail(admin) if r["actor"] == "sales"] == [], "nothing shown in clear to sales"

        # the admin may reveal: the form shows the clear values, and that reveal is recorded
        form = (await admin.get(f"/individuals/{ind_id}/edit")).text
        assert _field(form, "ssn") == "123-45-6789" and _field(form, "dob") == "1950-02-03"
        reveals = [r for r in await _pii_trail(admin) if r["detail"].get("shown_in") == "individual_form"]
        assert [(r["subject_id"], r["actor"]) for r in reveals] == [(ind_id, "admin")]
        r = await admin.post(f"/individuals/{ind_id}/edit", data=FORM | {"city": "Dallas", "ssn": "", "version": "2"})
        assert r.status_code == 303
        cleared = (await admin.get(f"/api/individuals/{ind_id}")).json()
        assert cleared["ssn"] is None, "a user who sees the SSN clears it by emptying it"
        custom_gone = FORM | {"city": "Dallas", "version": "3", "cf_name_1": "", "cf_value_1": ""}
        r = await admin.post(f"/individuals/{ind_id}/edit", data=custom_gone)
        assert r.status_code == 303
        names = [c["name"] for c in (await admin.get(f"/api/individuals/{ind_id}")).json()["custom_fields"]]
        assert names == ["Discount", "Hobbies"]


async def test_bad_input_is_answered_in_words_on_the_form_with_the_input_kept(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales:
        r = await sales.post("/individuals/new", data=FORM | {
            "first_name": "  ", "last_name": "", "title": "T" * 51, "city": "Aus\x1btin", "dob": "31/12/1950",
            "cf_value_0": "lots", "cf_name_3": "", "cf_value_3": "orphan value"})
        assert r.status_code == 422
        problems = r.text.split('id="form-problems"')[1].split("</div>")[0]
        for words in ("Name: give a first name or a last name", "Title: at most 50 characters",
                      "City: control characters (tabs, line breaks, escapes) are not accepted",
                      "Date of Birth: not a date: use the date picker (YYYY-MM-DD)",
                      "Custom field 1: not a valid percent value", "Custom field 4: give it a name"):
            assert words in html.unescape(problems), words
        assert "commission_paid" not in r.text and "string_too_long" not in r.text, "no raw keys"
        assert _field(r.text, "title") == "T" * 51 and _field(r.text, "dob") == "31/12/1950", "the input is kept"
        assert _field(r.text, "ssn") == "123-45-6789" and 'value="lots"' in r.text and 'value="orphan value"' in r.text
        assert 'id="problem-title"' in r.text, "the reason beside its field"
        total = (await sales.post("/api/individuals/search", json={})).json()["total"]
        assert total == 0, "nothing created"

        ind_id = await _create(sales)
        bad = await sales.post(f"/individuals/{ind_id}/edit", data=FORM | {"version": "1", "medicare_part_a": "soon"})
        assert bad.status_code == 422 and "Medicare Effective Date Part A: not a date" in bad.text
        assert 'name="version" value="1"' in bad.text


async def test_a_form_opened_before_someone_else_saved_is_refused(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        ind_id = await _create(sales)
        assert (await admin.post(f"/individuals/{ind_id}/edit", data=FORM | {"city": "Waco", "ssn": "",
                                                                             "version": "1"})).status_code == 303
        stale = await sales.post(f"/individuals/{ind_id}/edit", data=FORM | {"city": "Plano", "ssn": "", "version": "1"})
        assert stale.status_code == 409
        assert "someone saved this individual since you opened the form" in html.unescape(stale.text)
        assert _field(stale.text, "city") == "Plano", "the typed input is kept"
        assert (await admin.get(f"/api/individuals/{ind_id}")).json()["city"] == "Waco", "nothing overwritten unseen"


async def test_the_forms_need_the_edit_permission(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales:
        ind_id = await _create(sales)
    for login in ("viewer", "clerk"):
        async with intake.as_user(token_for(login)) as client:
            assert (await client.get("/individuals/new")).status_code == 403
            assert (await client.post("/individuals/new", data=FORM)).status_code == 403
            assert (await client.get(f"/individuals/{ind_id}/edit")).status_code == 403
            assert (await client.post(f"/individuals/{ind_id}/edit", data=FORM)).status_code == 403
    async with intake.as_user(token_for("sales")) as sales:
        assert (await sales.get("/individuals/nobody/edit")).status_code == 404
        assert (await sales.post("/api/individuals/search", json={})).json()["total"] == 1


async def test_an_individual_lists_its_policies_and_sales_records(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as clerk, intake.as_user(token_for("sales")) as sales:
        await register_carriers(clerk, "Acme")
        for number, effective in (("AUTO-1", "2026-01-01"), ("HOME-2", "2026-05-01"), ("BOAT-3", "2025-07-01")):
            r = await clerk.post("/api/policies", json={"carrier": "Acme", "policy_number": number,
                                                        "client_name": "Ann Lee", "effective_date": effective})
            assert r.status_code == 201, r.text
        (ind,) = (await sales.post("/api/individuals/search", json={"last_name": "Lee"})).json()["items"]
        job = await sales.post("/api/sales-record-jobs", json={"idempotency_key": str(uuid.uuid4()),
                                                               "sales_record_type": "Medicare",
                                                               "criteria": {"last_name": "Lee"}})
        assert job.status_code == 202, job.text

        async def done():
            j = (await sales.get(f"/api/sales-record-jobs/{job.json()['id']}")).json()
            return j if j["status"] == "done" else None
        await eventually(done, message="the sales record created")

        page = (await sales.get(f"/individuals/{ind['id']}", params={"policies_limit": 2})).text
        policies = page.split('<h2 id="policies">')[1].split('<h2 id="sales-records">')[0]
        assert "3 policies: 1–2" in policies
        assert policies.index("HOME-2") < policies.index("AUTO-1") and "BOAT-3" not in policies, "newest first"
        assert 'href="?policies_sort=-effective_date&amp;policies_offset=2&amp;policies_limit=2"' in policies
        by_number = (await sales.get(f"/individuals/{ind['id']}", params={"policies_sort": "policy_number"})).text
        listed = by_number.split('<h2 id="policies">')[1].split("</table>")[0]
        assert listed.index("AUTO-1") < listed.index("BOAT-3") < listed.index("HOME-2")
        records = page.split('<h2 id="sales-records">')[1].split("</table>")[0]
        assert "1 sales record" in records and "<td>Medicare</td>" in records and "<td>open</td>" in records
    async with intake.as_user(token_for("admin")) as admin:
        bare = (await admin.post("/api/individuals", json={"first_name": "No", "last_name": "Policies"})).json()
        page = (await admin.get(f"/individuals/{bare['id']}")).text
        assert "0 policies" in page and "No policy." in page and "0 sales records" in page
        odd = await admin.get(f"/individuals/{bare['id']}", params={"policies_sort": "ssn", "records_offset": 5})
        assert odd.status_code == 200


async def test_search_results_sort_by_their_headers_a_page_at_a_time(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales:
        for first, last in (("Ann", "Lee"), ("Bob", "Ray"), ("Cy", "Adams")):
            await _create(sales, first_name=first, last_name=last, ssn="")
        page = (await sales.get("/individuals", params={"run": "1", "state": "TX", "sort": "-last_name"})).text
        results = page.split('id="search-results"')[1].split("</table>")[0]
        assert results.index("Ray, Bob") < results.index("Lee, Ann") < results.index("Adams, Cy")
        assert "3 individuals found" in page and "3 individuals" in page.split('id="search-results"')[0]
        assert 'href="?run=1&amp;state=TX&amp;sort=last_name&amp;offset=0&amp;limit=50">Name</a> ▼' in results
        assert 'href="?run=1&amp;state=TX&amp;sort=state&amp;offset=0&amp;limit=50">State</a>' in results
        later = (await sales.get("/individuals", params={"run": "1", "state": "TX", "offset": "2"})).text
        assert "3 individuals: 3–3" in later and "Ray, Bob" in later and "Lee, Ann" not in later.split("search-results")[1]
        for odd in ({"sort": "ssn"}, {"offset": str(2**40)}, {"offset": "-3"}, {"page": "x"}):
            r = await sales.get("/individuals", params={"run": "1", "state": "TX", **odd})
            assert r.status_code == 200 and "3 individuals found" in r.text, odd
