"""Every upload is read by the platform's one reader (issue 13 items 14, 15), through HTTP on the
real service: an unclosed quote is an error naming its line (never the next rows merged into one),
Excel's Windows-1252, ';' and tab delimiters and .xlsx are read right, a missing column names the
columns found, and blank, duplicate, oversized and hostile rows each get a clear answer and lose
nothing. The appointments report's export is accepted as the termination file, and the report
says its total and pages."""

from __future__ import annotations

import csv
import io

from appointments import models as m
from openpyxl import Workbook
from sqlalchemy import func, insert, select

from tests.appointments.conftest import csv_bytes
from tests.appointments.helpers import add_producer
from tests.appointments.transactions.test_guarded_transactions_service import appointed

ONBOARDING = "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,Scorecard Type,Agent Type,CoCodes"
TERMINATIONS = "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,For Cause"
BULK = "NPN,States,LOA Category,CoCodes,Submit,Submit Just In Time"


def upload(name: str, content: bytes) -> dict:
    return {"file": (name, content, "text/csv")}


async def count(rt, model) -> int:
    async with rt.db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


# -- item 14 --------------------------------------------------------------------------------------------
async def test_an_unclosed_quote_is_refused_naming_its_line_on_every_upload(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("admin"))
    files = {
        "/api/producer-imports": csv_bytes(ONBOARDING, "8800001,Ann,Lee,1000001,,,,,,,",
                                           '8800001,"Bo,Stone,1000002,,,,,,,',
                                           '8800001,Cy,"Park, Jr",1000003,,,,,,,'),
        "/api/termination-imports": csv_bytes(TERMINATIONS, "1000001,CA,Life,60054,,",
                                              '1000002,"CA,Life,60054,,', '1000003,"CA",Life,60054,,'),
        "/api/appointments/bulk-file": csv_bytes(BULK, "1000001,CA,Life & Health,60054,,",
                                                 '1000002,"CA,Life & Health,60054,,',
                                                 '1000003,"CA",Life & Health,60054,,'),
        "/api/reference-data/agencies": csv_bytes("npn,name", "8800100,North", '8800101,"South', '8800102,"East"'),
    }
    for path, content in files.items():
        r = await client.post(path, files=upload("f.csv", content))
        assert r.status_code == 422, (path, r.text)
        assert "line 3: a quoted value opened on this line is not closed" in r.text, (path, r.text)
    # nothing was kept of any of them (no half file, no merged row)
    assert await count(svc.runtime, m.BulkImport) == 0
    assert await count(svc.runtime, m.AppointmentTransaction) == 0
    assert {a["npn"] for a in (await client.get("/api/reference-data/agencies")).json()} == {
        "8800001", "8800002", "8800003"}


def xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_excel_encodings_delimiters_and_spreadsheets_are_read_as_written(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("admin"))

    # Excel's "CSV" on Windows: cp1252, no BOM (é is 0xE9, ’ is 0x92: not UTF-8)
    cp1252 = (ONBOARDING + "\r\n8800001,Zoë,O’Brien,1000001,,,,,,,\r\n").encode("cp1252")
    r = await client.post("/api/producer-imports", files=upload("agents.csv", cp1252))
    assert r.status_code == 201, r.text
    assert r.json()["rows"][0]["values"].items() >= {"First Name": "Zoë", "Last Name": "O’Brien"}.items()
    assert r.json()["valid_rows"] == 1

    # a European Excel writes ';' (a multi-value cell is then quoted)
    semi = (ONBOARDING.replace(",", ";") + '\r\n8800001;Ann;Lee;1000002;;;Life & Health;"CA;TX";License;Producer;\r\n'
            ).encode("cp1252")
    r = await client.post("/api/producer-imports", files=upload("agents.csv", semi))
    assert r.status_code == 201, r.text
    assert (r.json()["valid_rows"], r.json()["rows"][0]["values"]["States"]) == (1, "CA;TX"), r.json()

    # tab-separated terminations, and an .xlsx bulk-appoint file
    await appointed(svc.runtime, "1000003", ("CA", "Life", "60054"))
    tabbed = csv_bytes(TERMINATIONS.replace(",", "\t"), "1000003\tCA\tLife\t60054\t\t")
    r = await client.post("/api/termination-imports", files=upload("t.txt", tabbed))
    assert r.status_code == 201, r.text
    assert (r.json()["valid_rows"], r.json()["rows"][0]["transactions"]) == (1, 1), r.json()

    sheet = xlsx([BULK.split(","), [1000004, "CA", "Life & Health", "60054", "false", "false"]])
    r = await client.post("/api/appointments/bulk-file", files={"file": ("bulk.xlsx", sheet, "application/vnd.ms-excel")})
    assert r.status_code == 200, r.text
    assert r.json()["row_errors"] == [] and len(r.json()["results"]) == 1, r.json()
    onboarding = xlsx([ONBOARDING.split(","), ["8800001", "Élise", "Durand", "1000005"]])
    r = await client.post("/api/producer-imports", files={"file": ("agents.xlsx", onboarding, "application/octet-stream")})
    assert r.status_code == 201 and r.json()["valid_rows"] == 1, r.text


async def test_a_missing_column_names_the_columns_found(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("admin"))
    r = await client.post("/api/producer-imports", files=upload("a.csv", csv_bytes(
        "Agency NPN,First,Last,Agent NPN", "8800001,Ann,Lee,1000001")))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("missing columns: First Name, Last Name; the header on line 1 has "
                             "'Agency NPN', 'First', 'Last', 'Agent NPN'"), detail
    r = await client.post("/api/reference-data/agencies", files=upload("a.csv", csv_bytes("npn,title", "8800100,X")))
    assert r.status_code == 422
    assert r.json()["detail"]["errors"] == [
        "missing columns: name; the header on line 1 has 'npn', 'title'; download the template"]


async def test_blank_duplicate_oversized_and_hostile_rows_get_clear_answers(start_service, token_for) -> None:
    svc = await start_service("appointments", max_upload_bytes=300_000)
    client = svc.as_user(token_for("admin"))

    async def onboarding(*rows: str, raw: bytes | None = None):
        return await client.post("/api/producer-imports", files=upload("a.csv", raw if raw is not None
                                                                       else csv_bytes(*rows)))

    # blank: an empty file, a file of blank lines, blank rows between data rows (counted, not errors)
    assert (await onboarding(raw=b"")).json()["detail"] == "the file is empty"
    assert "no header row" in (await onboarding(raw=b"\r\n ,,\r\n")).json()["detail"]
    r = await onboarding("", ONBOARDING, ",,,,,,,,,,", "8800001,Ann,Lee,1000001,,,,,,,", "", ",,")
    assert (r.status_code, r.json()["blank_rows"], r.json()["valid_rows"]) == (201, 3, 1), r.text
    assert r.json()["rows"][0]["line"] == 4

    # duplicate: a column named twice (two spellings of States) would lose one; a producer twice
    r = await onboarding("Agency NPN,First Name,Last Name,Agent NPN,States,State(s)", "8800001,A,B,1000001,CA,TX")
    assert r.status_code == 422
    assert r.json()["detail"] == "column 'States' appears twice: column 5 ('States') and column 6 ('State(s)'); keep one"
    r = await onboarding(ONBOARDING, "8800001,Ann,Lee,1000002,,,,,,,", "8800001,Ann,Lee,1000002,,,,,,,")
    assert r.json()["rows"][1]["errors"] == ["Agent NPN 1000002 already appears on line 2"]

    # oversized: a file above the upload limit (refused before it is read), a value above the cell limit
    big = await onboarding(raw=csv_bytes(ONBOARDING) + b"8800001,A,B,1,,,,,,,\r\n" * 20_000)
    assert big.status_code == 413
    long = await onboarding(raw=csv_bytes(ONBOARDING, "8800001,Ann," + "x" * 150_000 + ",1000003,,,,,,,"))
    assert long.status_code == 422 and "line 2: a value longer than 100000 characters" in long.text

    # hostile: values beyond the header (an unquoted comma), a formula, markup: kept as typed,
    # shown escaped, exported neutralised, and the row with the extra values refused in words
    r = await onboarding(ONBOARDING,
                         "8800001,Ann,Lee,1000004,,,,,,,,Sales, East",
                         '8800001,"=HYPERLINK(""http://evil.example"",""x"")",<script>alert(1)</script>,1000005,,,,,,,')
    assert r.status_code == 201, r.text
    extra, hostile = r.json()["rows"]
    assert extra["errors"] == [("2 value(s) beyond the named columns ('Sales', 'East'): "
                                "a missing quote or an extra delimiter?")]
    assert hostile["values"]["First Name"] == '=HYPERLINK("http://evil.example","x")' and hostile["valid"]
    page = await client.get(f"/onboarding/{r.json()['id']}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text
    invalid = await client.get(f"/api/producer-imports/{r.json()['id']}/invalid-rows.csv")
    assert "2 value(s) beyond the named columns" in invalid.text


async def test_reference_data_files_are_read_like_every_other_upload(start_service, token_for) -> None:
    svc = await start_service("appointments")
    client = svc.as_user(token_for("admin"))
    content = "npn;name\r\n8800100;Agence Étoile\r\n\r\n8800101;Café ’Nord’\r\n".encode("cp1252")
    r = await client.post("/api/reference-data/agencies", files=upload("agencies.csv", content))
    assert r.status_code == 201 and r.json()["rows_loaded"] == 2, r.text
    names = {a["npn"]: a["name"] for a in (await client.get("/api/reference-data/agencies")).json()}
    assert (names["8800100"], names["8800101"]) == ("Agence Étoile", "Café ’Nord’")
    # an error names the line of the file (a blank line and a quoted line break counted)
    bad = csv_bytes("npn,name", '8800102,"Two\nLines"', "", "not an npn,X")
    r = await client.post("/api/reference-data/agencies", files=upload("agencies.csv", bad))
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0].startswith("line 5: agency NPN 'not an npn'"), r.text


# -- item 15 --------------------------------------------------------------------------------------------
async def test_the_report_export_is_accepted_as_the_termination_file(start_service, token_for) -> None:
    svc = await start_service("appointments")
    rt = svc.runtime
    await add_producer(rt, "5570001", [], first="Zoë", last="O’Brien")
    await appointed(rt, "5570001", ("CA", "Life", "60054"), ("NY", "Life", "60054"), ("CA", "Life", "60055"))
    await appointed(rt, "5570002", ("CA", "Life", "60054"))
    client = svc.as_user(token_for("licensing"))
    export = await client.get("/api/appointments", params={"cocode": "60054", "status": "Appointed", "format": "csv"})
    assert export.status_code == 200 and export.content.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    exported = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert exported == [["Related Producer", "NPN", "State Code", "Line of Authority", "CoCode"],
                        ["Zoë O’Brien", "5570001", "CA", "Life", "60054"],
                        ["Zoë O’Brien", "5570001", "NY", "Life", "60054"],
                        ["", "5570002", "CA", "Life", "60054"]]

    # uploaded as it came (BOM and all): every row accepted, one termination each
    r = await client.post("/api/termination-imports", files=upload("appointments.csv", export.content))
    assert r.status_code == 201, r.text
    imp = r.json()
    assert (imp["total_rows"], imp["valid_rows"]) == (3, 3), imp
    assert [(x["values"]["Agent NPN"], x["values"]["States"], x["values"]["Line of Authority"], x["values"]["CoCode"])
            for x in imp["rows"]] == [tuple(row[1:]) for row in exported[1:]]
    assert [x["transactions"] for x in imp["rows"]] == [1, 1, 1]

    # edited in Excel (one row dropped, a reason column added, saved as cp1252): still accepted
    edited = "\r\n".join([",".join([*exported[0], "Termination Reason Code"]),
                          ",".join([*exported[1], "DEATH"]), ",".join([*exported[3], ""])]) + "\r\n"
    r = await client.post("/api/termination-imports", files=upload("edited.csv", edited.encode("cp1252")))
    assert r.status_code == 201 and r.json()["valid_rows"] == 2, r.text
    submitted = (await client.post(f"/api/termination-imports/{r.json()['id']}/submit")).json()
    assert submitted["transactions"] == 2
    async with rt.db.session() as s:
        T = m.AppointmentTransaction
        made = (await s.execute(select(T.npn, T.state, T.line_of_authority, T.cocode, T.termination_reason_code)
                                .order_by(T.npn))).all()
    assert [tuple(x) for x in made] == [("5570001", "CA", "Life", "60054", "DEATH"),
                                        ("5570002", "CA", "Life", "60054", made[1][4])]


async def test_a_report_longer_than_a_page_says_its_total_and_pages(start_service, token_for) -> None:
    svc = await start_service("appointments")
    async with svc.runtime.db.transaction() as s:
        await s.execute(insert(m.CarrierAppointment.__table__), [
            {"npn": f"{5580000 + i}", "state": "CA", "line_of_authority": "Life", "cocode": "60054",
             "status": "Appointed"} for i in range(2_345)])
    client = svc.as_user(token_for("licensing"))
    first = (await client.get("/api/appointments", params={"status": "Appointed"})).json()
    assert (first["total"], first["offset"], first["limit"], len(first["items"])) == (2_345, 0, 100, 100)
    last = (await client.get("/api/appointments", params={"status": "Appointed", "offset": 2_300})).json()
    assert [x["npn"] for x in last["items"]] == [f"{5580000 + i}" for i in range(2_300, 2_345)]

    page = await client.get("/report", params={"status": "Appointed", "page": 24})
    assert "2345 appointments: rows 2301–2345, page 24 of 24" in page.text, page.text
    assert 'href="/report?cocode=&amp;status=Appointed&amp;line_of_authority=&amp;state=&amp;page=23"' in page.text
    assert page.text.count("<tr><td>") == 45
    one = await client.get("/report", params={"status": "Appointed"})
    assert "page 1 of 24" in one.text and "&amp;page=2\"" in one.text

    export = await client.get("/api/appointments", params={"status": "Appointed", "format": "csv"})
    assert len(export.content.decode("utf-8-sig").splitlines()) == 2_346  # every row, past 2,000
