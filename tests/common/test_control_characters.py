"""NUL and control characters refused in names and free text, in words (issue 19, item 9): the input
guard refuses them in the path, the query and JSON / form bodies of every service (tab and line breaks
pass, for multi-line text); the pydantic types of ``agency_common.validation`` refuse them in fields,
multipart forms included, and keep a name on one line."""

from __future__ import annotations

import pytest
from agency_common.validation import FreeText, NonBlankStr, SingleLineStr, control_problem
from agency_common.web.input_guard import body_problem, path_problem, query_problem
from pydantic import BaseModel, ValidationError

from tests.support.carriers import register_carriers
from tests.support.databases import using_postgres


class Named(BaseModel):
    name: NonBlankStr
    reference: SingleLineStr = ""
    note: FreeText = ""


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\ud800"])
def test_control_characters_are_refused_everywhere(char: str) -> None:
    assert control_problem(f"Ann{char}Lee") is not None
    assert control_problem(f"Ann{char}Lee", multiline=False) is not None
    for field in ("name", "reference", "note"):
        with pytest.raises(ValidationError):
            Named.model_validate({"name": "Ann", field: f"Ann{char}Lee"})


def test_a_name_is_one_line_and_free_text_keeps_its_lines() -> None:
    for char in "\t\n\r":
        with pytest.raises(ValidationError, match="must be one line"):
            Named(name=f"Ann{char}Lee")
        with pytest.raises(ValidationError, match="must be one line"):
            Named(name="Ann", reference=f"A{char}1")
    assert Named(name="  Ann Lee\n").name == "Ann Lee"  # surrounding space, a trailing newline with it
    assert Named(name="Ann", note="first line\n\tsecond\r\n").note == "first line\n\tsecond\r\n"
    assert Named(name="José Ñúñez-Ĺi 李 😀").name == "José Ñúñez-Ĺi 李 😀"  # letters of any script pass


def test_the_words() -> None:
    assert control_problem("a\x00b") == "NUL characters are not accepted"
    assert control_problem("ab\x07") == "control characters are not accepted (U+0007 at position 3)"
    assert control_problem("a\nb", multiline=False) == "must be one line (a line feed, U+000A, was found)"
    assert "not valid UTF-8" in (control_problem("a\udcffb") or "")
    assert body_problem("application/json", b'{"rows": [{"n": "ok"}, {"n": "a\\u001bb"}]}') == (
        "rows.1.n: control characters are not accepted (U+001B at position 2)")
    assert body_problem("application/json", b'{"n": "a\x7fb"}') == (
        "n: control characters are not accepted (U+007F at position 2)")
    assert body_problem("application/json", '{"n": "a\u0085b"}'.encode()).startswith("n: control")
    assert body_problem("application/json", b'{"n": "\\ud83d"}').startswith("n: not valid UTF-8")
    assert body_problem("application/json", b'{"a\\u0007": 1}').startswith("the field name 'a\\x07'")
    assert body_problem("application/x-www-form-urlencoded", b"name=a%1Bb") == (
        "name: control characters are not accepted (U+001B at position 2)")
    assert query_problem("q=Ann%07") == "q: control characters are not accepted (U+0007 at position 4)"
    assert query_problem("q=%ff").startswith("q: not valid UTF-8")
    assert path_problem("/api/carriers/a\x01b") is not None


def test_ordinary_text_passes_the_guard() -> None:
    assert body_problem("application/json", '{"n": "José \\u00e9 \\ud83d\\ude00 李", "m": "a\\nb\\tc"}'.encode()) is None
    assert body_problem("application/json", b'{"note": "line\\r\\nbreak", "n": 1, "x": [null, true]}') is None
    assert body_problem("application/json", b"not json \x07") is None  # the route refuses it itself
    deep = b"[" * 50_000 + b'"\\u0007"' + b"]" * 50_000
    assert body_problem("application/json", deep) is None  # nested past reason: not a crash here either
    assert body_problem("application/x-www-form-urlencoded", b"note=a%0D%0Ab&name=%C4%85") is None
    assert query_problem("q=%C4%85%20Lee&size=50") is None and path_problem("/api/carriers/Łódź") is None


async def test_every_service_refuses_them_in_words(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("admin")) as admin:
        bell = await admin.post("/api/carriers", json={"name": "Bell\x07Mutual"})
        assert bell.status_code == 422
        assert bell.json()["detail"] == "name: control characters are not accepted (U+0007 at position 5)"
        # a name typed as a plain str in its service is covered by the guard
        esc = await admin.post("/api/individuals", json={"first_name": "Ann\x1b[2J", "last_name": "Lee"})
        assert esc.status_code == 422 and esc.json()["detail"].startswith("first_name: control characters")
        # a name on two lines: refused by the carrier's NonBlankStr, in pydantic's words
        two = await admin.post("/api/carriers", json={"name": "Bell\nMutual"})
        assert two.status_code == 422 and "must be one line" in two.text
        assert (await admin.get("/api/carriers/resolve", params={"name": "Bell\x1bMutual"})).status_code == 422
        assert (await admin.get("/api/carrier-profiles/Bell%01Mutual")).status_code == 422
        # ordinary names, accents and all, go through
        assert (await register_carriers(admin, "Bell Mutual"))[0]["name"] == "Bell Mutual"
        ok = await admin.post("/api/individuals", json={"first_name": "Zoë", "last_name": "Ñúñez"})
        assert ok.status_code in (200, 201), ok.text
        # a dashboard form is answered with a page in words, not JSON
        page = await admin.post("/policies", data={"carrier": "Bell\x07Mutual"}, headers={"Accept": "text/html"})
        assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
        assert "control characters are not accepted" in page.text


async def test_a_nul_in_a_multipart_field_is_a_422_not_a_500(start_service, token_for) -> None:
    """Schemathesis found it on PostgreSQL: the guard does not read multipart forms (uploads), so a NUL
    in a form field reached a query; the database's refusal is answered as the guard would answer."""
    intake = await start_service("intake")
    async with intake.as_user(token_for("admin")) as admin:
        r = await admin.post("/api/statements", data={"carrier": "ù\x00"},
                             files={"file": ("s.csv", b"Policy #,Premium\r\nA-1,1\r\n", "text/csv")})
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        if using_postgres():
            assert detail == "text with NUL characters is not accepted"
        else:  # SQLite holds NUL in text: the carrier is unknown
            assert detail.startswith("unknown carrier")
