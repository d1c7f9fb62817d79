"""agency_common.listing without a service: the order a sort asks for always ends on the unique
column (pages never overlap), an unknown sort is refused in words (the API) or replaced by the
default (a page), and a page's links keep its filters."""

from __future__ import annotations

import pytest
from agency_common.errors import Invalid
from agency_common.listing import Page, Sorting
from sqlalchemy import Column, Integer, MetaData, String, Table

t = Table("things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))
SORTING = Sorting({"name": [t.c.name]}, default="name", unique=t.c.id)


def test_an_order_ends_on_the_unique_column_and_an_unknown_sort_is_refused() -> None:
    assert [str(c) for c in SORTING.order_by("-name")] == ["things.name DESC", "things.id DESC"]
    with pytest.raises(Invalid, match="sort by one of: name"):
        SORTING.order_by("secret")
    assert (SORTING.valid("secret"), SORTING.valid("-name"), SORTING.valid(None)) == ("name", "-name", "name")


def test_links_keep_the_filters_and_a_header_turns_the_order_round() -> None:
    page = Page(items=[1, 2], total=5, offset=2, limit=2, sort="name", query={"q": "a b", "empty": ""})
    assert page.next_url == "?q=a+b&sort=name&offset=4&limit=2"
    assert page.previous_url == "?q=a+b&sort=name&offset=0&limit=2"
    assert page.sort_url("name") == "?q=a+b&sort=-name&offset=0&limit=2" and page.sorted_by("name") == "▲"
    assert (page.first_row, page.last_row) == (3, 4)
    assert Page(items=[5], total=5, offset=4, limit=2, sort="name").next_url is None
