"""Saved searches on the dashboard and the API (issue 15): criteria shown in words (not a dict), a list a page
at a time with a total and sortable headers, edited and deleted by their owner (or a user with
searches:manage) with the values before and after in the audit trail, bad input answered in words on the
form with the input kept. Real service and database."""

from __future__ import annotations

import html
import re


async def _save(client, name: str, **criteria: str) -> str:
    r = await client.post("/individuals/saved-searches", data={"search_name": name, **criteria})
    assert r.status_code == 303, r.text
    return re.search(r"saved_search_id=([0-9a-f-]{36})", r.headers["location"]).group(1)


async def test_saved_searches_in_words_edited_and_deleted(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        sid = await _save(sales, "Texas autos", state="TX", policy_line_of_business="AUTO",
                          policy_effective_from="2026-01-01", has_sales_record="false")
        words = "State is TX; Has a sales record: no; Policy line of business is AUTO; Policy effective on or after 2026-01-01"
        search_page = html.unescape((await sales.get("/individuals")).text)
        assert words in search_page and "{'" not in search_page and "1 saved search " in search_page

        listing = await sales.get("/individuals/saved-searches")
        assert listing.status_code == 200
        shown = html.unescape(listing.text)
        assert "1 saved search" in shown and words in shown and "Texas autos" in shown
        assert f'href="/individuals/saved-searches/{sid}/edit">Edit or delete</a>' in listing.text

        form = await sales.get(f"/individuals/saved-searches/{sid}/edit")
        assert form.status_code == 200 and 'value="Texas autos"' in form.text and 'value="2026-01-01"' in form.text
        r = await sales.post(f"/individuals/saved-searches/{sid}/edit", data={
            "search_name": "Texas autos 2026", "state": "TX", "policy_line_of_business": "AUTO",
            "policy_effective_from": "2026-01-01", "policy_effective_to": "2026-12-31"})
        assert r.status_code == 303 and r.headers["location"] == "/individuals/saved-searches?message=saved"
        shown = html.unescape((await sales.get(r.headers["location"])).text)
        assert "The saved search was changed." in shown and "Texas autos 2026" in shown
        assert "Policy effective from 2026-01-01 to 2026-12-31" in shown and "Has a sales record" not in shown

        trail = (await admin.get("/api/audit", params={"action": "saved_search", "limit": 50})).json()["items"]
        (changed,) = trail
        assert (changed["action"], changed["actor"], changed["subject_id"]) == ("saved_search.changed", "sales", sid)
        assert changed["detail"]["before"]["name"] == "Texas autos"
        assert changed["detail"]["before"]["criteria"]["has_sales_record"] is False
        assert changed["detail"]["after"]["criteria"]["policy_effective_to"] == "2026-12-31"

        api = (await sales.get("/api/saved-searches", params={"sort": "name"})).json()
        assert api["total"] == 1 and api["sort"] == "name" and api["items"][0]["words"] == [
            "State is TX", "Policy line of business is AUTO", "Policy effective from 2026-01-01 to 2026-12-31"]

        r = await sales.post(f"/individuals/saved-searches/{sid}/delete")
        assert r.status_code == 303
        shown = (await sales.get(r.headers["location"])).text
        assert "The saved search was deleted." in shown and "0 saved searches" in shown
        assert (await sales.get(f"/individuals/saved-searches/{sid}/edit")).status_code == 404
        trail = (await admin.get("/api/audit", params={"action": "saved_search.deleted"})).json()["items"]
        assert trail[0]["detail"]["name"] == "Texas autos 2026" and trail[0]["detail"]["criteria"]["state"] == "TX"


async def test_bad_input_on_the_saved_search_form_is_answered_in_words(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales:
        sid = await _save(sales, "Florida", state="FL")
        for name, reason in (("   ", "Name of the search: cannot be blank"),
                             ("x" * 201, "Name of the search: at most 200 characters"),
                             ("Flo\x1brida", "Name of the search: control characters")):
            r = await sales.post(f"/individuals/saved-searches/{sid}/edit", data={"search_name": name, "state": "FL"})
            assert r.status_code == 422 and reason in html.unescape(r.text), name
        r = await sales.post(f"/individuals/saved-searches/{sid}/edit", data={
            "search_name": "Florida renewals", "state": "FL", "policy_renewal_to": "31/12/2026"})
        assert r.status_code == 422
        assert "Policy renewal to: not a date: use the date picker (YYYY-MM-DD)" in html.unescape(r.text)
        assert 'value="Florida renewals"' in r.text and 'value="31/12/2026"' in r.text, "the input is kept"
        listed = (await sales.get("/api/saved-searches")).json()["items"]
        assert [(s["name"], s["criteria"]) for s in listed] == [("Florida", {"state": "FL"})], "nothing changed"


async def test_only_the_owner_or_a_manager_changes_a_saved_search(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        mine = await _save(sales, "Mine", state="TX")
        theirs = (await admin.post("/api/saved-searches", json={"name": "Admin's", "criteria": {"state": "CA"}})).json()
        listing = (await sales.get("/individuals/saved-searches", params={"sort": "name"})).text
        assert "2 saved searches" in listing and listing.index("Admin&#39;s") < listing.index("Mine")
        assert f"/individuals/saved-searches/{theirs['id']}/edit" not in listing, "no Edit on another's search"
        assert "1 saved search" in (await sales.get("/individuals/saved-searches", params={"owner": "admin"})).text

        refused = await sales.patch(f"/api/saved-searches/{theirs['id']}", json={"name": "Taken"})
        assert refused.status_code == 403 and "only admin, who saved" in refused.json()["detail"]
        assert (await sales.delete(f"/api/saved-searches/{theirs['id']}")).status_code == 403
        page = await sales.post(f"/individuals/saved-searches/{theirs['id']}/delete")
        assert page.status_code == 403 and "only admin, who saved" in html.unescape(page.text)

        # an administrator manages every search (searches:manage through *)
        r = await admin.patch(f"/api/saved-searches/{mine}", json={"criteria": {"state": "OK"}})
        assert r.status_code == 200 and r.json()["name"] == "Mine" and r.json()["words"] == ["State is OK"]
        gone = await admin.delete(f"/api/saved-searches/{mine}")
        assert gone.status_code == 200 and gone.json() == {"id": mine, "deleted": True}
        assert (await admin.delete(f"/api/saved-searches/{mine}")).status_code == 404

    async with intake.as_user(token_for("viewer")) as viewer:
        assert (await viewer.get("/individuals/saved-searches")).status_code == 403
        assert (await viewer.get(f"/individuals/saved-searches/{theirs['id']}/edit")).status_code == 403
        assert (await viewer.patch(f"/api/saved-searches/{theirs['id']}", json={"name": "x"})).status_code == 403
    async with intake.as_user(token_for("clerk")) as clerk:  # no individuals:view, no searches:save
        assert (await clerk.post(f"/individuals/saved-searches/{theirs['id']}/delete")).status_code == 403
