"""A download's file name from any upload name (issue 19 item 9: a non-Latin-1 name broke errors.csv)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from agency_common.web.downloads import attachment
from starlette.responses import Response


def test_a_plain_name_is_kept_as_it_is() -> None:
    assert attachment("acme-2026-10-errors.csv") == {
        "Content-Disposition": 'attachment; filename="acme-2026-10-errors.csv"'}


@pytest.mark.parametrize("name", ["Prämien März-errors.csv", "保单-errors.csv", "😀.csv", "Ωmega.csv"])
def test_any_unicode_name_gives_a_header_with_the_exact_name(name: str) -> None:
    header = attachment(name)["Content-Disposition"]
    header.encode("latin-1")  # what an HTTP header must be: this raised for the old header
    Response("x", headers={"Content-Disposition": header})  # Starlette accepts it
    ascii_part, exact_part = header.split("; filename*=UTF-8''")
    assert ascii_part.startswith('attachment; filename="') and ascii_part.isascii()
    assert unquote(exact_part) == name


@pytest.mark.parametrize("name", ['evil"; filename="x.exe', "two\r\nSet-Cookie: a=b.csv", "back\\slash.csv"])
def test_a_hostile_name_cannot_forge_the_header(name: str) -> None:
    header = attachment(name)["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    quoted = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in quoted and "\\" not in quoted
    assert header.count('filename="') == 1


def test_a_name_of_nothing_printable_gets_the_fallback() -> None:
    assert attachment("\x00\x07", fallback="errors.csv") == {"Content-Disposition": 'attachment; filename="errors.csv"'}
