"""The dashboard's import of individuals: every row's result (created, updated, invalid with
reasons, blank counted), the invalid rows offered back as CSV with PII masked, the template."""

from __future__ import annotations

import base64
import csv
import io
import re

HEADER = "Individual ID,External ID,First Name,Last Name,SSN,Date of Birth,State,custom:Checkbox List:Interests,custom:number:Kids"


def _upload(text: str) -> dict:
    return {"file": ("people.csv", text.encode("utf-8-sig"), "text/csv")}


def _stat(page: str, name: str) -> int:
    m = re.search(rf'id="import-{name}">(\d+)<', page)
    assert m, name
    return int(m.group(1))


def _invalid_csv(page: str) -> list[dict[str, str]]:
    m = re.search(r'id="invalid-rows" href="data:text/csv;base64,([^"]+)"', page)
    assert m, "a download of the invalid rows"
    return list(csv.DictReader(io.StringIO(base64.b64decode(m.group(1)).decode("utf-8-sig"))))


async def test_import_page_results_masking_and_updates(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("sales")) as sales, intake.as_user(token_for("admin")) as admin:
        page = await sales.get("/individuals/import")
        assert page.status_code == 200 and "/individuals/import/template.csv" in page.text
        template = (await sales.get("/individuals/import/template.csv")).content.decode("utf-8-sig")
        columns = next(csv.reader(io.StringIO(template)))
        assert {"Individual ID", "External ID", "SSN", "Date of Birth", "Medicare Beneficiary ID",
                "custom:checkbox_list:Interests", "custom:currency:Income"} <= set(columns)

        rows = [HEADER, ",crm-9,Gil,Ho,111-22-3333,05/06/1960,TX,golf; tennis,2", ",,,,,,,,",
                ",,Bad,Row,222-33-4444,31/31/1960,TX,,many", "nope,,Who,Ever,,,FL,,"]
        data = "".join(f"{row}\r\n" for row in rows)
        r = await sales.post("/individuals/import", files=_upload(data))
        assert r.status_code == 200, r.text[:2000]
        page = r.text
        assert [_stat(page, k) for k in ("total", "created", "updated", "invalid", "blank")] == [4, 1, 0, 2, 1]
        assert "dob: not a date" in page and "Kids: not a valid number value" in page
        assert "id: no individual has this id" in page
        assert "222-33-4444" not in page and "111-22-3333" not in page
        invalid = _invalid_csv(page)
        assert [row["line"] for row in invalid] == ["4", "5"]
        assert invalid[0]["SSN"] == "*******4444" and "dob: not a date" in invalid[0]["errors"]
        assert invalid[0]["First Name"] == "Bad"  # the row comes back as uploaded, to be fixed

        # someone who may reveal PII gets the invalid rows back in clear
        revealed = _invalid_csv((await admin.post("/individuals/import", files=_upload(HEADER + "\r\n,,X,Y,222-33-4444,bad,TX,,\r\n"))).text)
        assert revealed[0]["SSN"] == "222-33-4444"

        gil = (await sales.post("/api/individuals/search", json={"last_name": "ho"})).json()["items"][0]
        assert gil["ssn"] == "*******3333" and gil["dob"] == "**********"
        assert {c["name"]: c["value"] for c in gil["custom_fields"]} == {"Interests": ["golf", "tennis"], "Kids": "2"}

        # a row naming an existing individual updates it: blank cells keep its values, custom
        # fields merge by name, a masked PII value (from a masked export) is ignored; a second row
        # for the same individual in one file is refused (its outcome would depend on row order)
        update = "\r\n".join([HEADER, ",crm-9,,,*******3333,,FL,,3", f"{gil['id']},,Gilbert,,,,,,"]) + "\r\n"
        page = (await sales.post("/individuals/import", files=_upload(update))).text
        assert [_stat(page, k) for k in ("created", "updated", "invalid")] == [0, 1, 1]
        assert "this individual is already on line 2 of this file" in page
        after = (await admin.get(f"/api/individuals/{gil['id']}")).json()
        assert (after["first_name"], after["last_name"], after["state"], after["ssn"]) == ("Gil", "Ho", "FL", "111-22-3333")
        assert {c["name"]: c["value"] for c in after["custom_fields"]} == {"Interests": ["golf", "tennis"], "Kids": "3"}
        page = (await sales.post("/individuals/import", files=_upload(f"{HEADER}\r\n{gil['id']},,Gilbert,,,,,,\r\n"))).text
        assert _stat(page, "updated") == 1
        after = (await admin.get(f"/api/individuals/{gil['id']}")).json()
        assert (after["first_name"], after["state"], after["version"]) == ("Gilbert", "FL", 3)
        audit = (await sales.get(f"/api/individuals/{gil['id']}/audit")).json()["items"]
        assert [(a["action"], a["actor"]) for a in audit] == [("csv_import_update", "sales")] * 2
        assert audit[0]["details"]["fields"] == ["state"] and audit[0]["details"]["custom_fields"] == ["Kids"]
        assert audit[1]["details"]["fields"] == ["first_name"]

        # the individual's page masks PII
        page = (await sales.get(f"/individuals/{gil['id']}")).text
        assert "*******3333" in page and "111-22-3333" not in page and "csv import update" in page

        # a file that is not about individuals, and a user without individuals:edit
        r = await sales.post("/individuals/import", files=_upload("a,b\r\n1,2\r\n"))
        assert r.status_code == 422 and "not an individuals file" in r.text
    async with intake.as_user(token_for("clerk")) as clerk:
        assert (await clerk.get("/individuals/import")).status_code == 403
        assert (await clerk.post("/individuals/import", files=_upload(data))).status_code == 403
