"""A list read a page at a time on the server, sorted by a column the user picks, with how many rows
there are in all (issue 16): appointments' producers and batches, the NIPR gateway's submissions (its
own process and database). The screens' headers and pager are ``web/templates/_listing.html``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from agency_common.errors import Invalid

# The largest offset a list accepts: a larger one would overflow the database's integer (a 500 on SQLite)
# and no list is that long.
MAX_OFFSET = 2**31 - 1


class UnknownSort(Invalid):
    """422: the API asked to sort by a column the list does not sort by."""


@dataclass(frozen=True)
class Sorting:
    """The columns a list sorts by, by name (a name may stand for several columns: a name sorts by
    last name then first name), the default, and the unique column that ends every order so pages
    never overlap or skip a row."""

    columns: Mapping[str, Sequence[Any]]
    default: str  # "name", or "-created_at" for newest first
    unique: Any

    def order_by(self, sort: str) -> list[Any]:
        """``sort`` is a name, ``-name`` for descending; an unknown one is refused in words."""
        key = sort.removeprefix("-")
        if key not in self.columns:
            raise UnknownSort(f"sort by one of: {', '.join(sorted(self.columns))} (with - for descending)")
        desc = sort.startswith("-")
        return [c.desc() if desc else c.asc() for c in (*self.columns[key], self.unique)]

    def valid(self, sort: str | None) -> str:
        """The sort a page asked for when it is a known one, else the default (a page never fails on it)."""
        if sort and sort.removeprefix("-") in self.columns:
            return sort
        return self.default


@dataclass
class Page:
    """One page of a list and what a screen needs to move through it: links that keep the filters."""

    items: list[Any]
    total: int
    offset: int
    limit: int
    sort: str
    query: dict[str, str] = field(default_factory=dict)  # the filters, kept in every link

    def api(self, items: list[Any] | None = None) -> dict[str, Any]:
        return {"total": self.total, "offset": self.offset, "limit": self.limit, "sort": self.sort,
                "items": self.items if items is None else items}

    def url(self, **changes: Any) -> str:
        params = {**self.query, "sort": self.sort, "offset": self.offset, "limit": self.limit, **changes}
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    def sort_url(self, key: str) -> str:
        """The header's link: by this column, or the other way round when the list is already by it."""
        return self.url(sort=f"-{key}" if self.sort == key else key, offset=0)

    def sorted_by(self, key: str) -> str:
        return "▲" if self.sort == key else "▼" if self.sort == f"-{key}" else ""

    @property
    def first_row(self) -> int:
        return self.offset + 1 if self.items else 0

    @property
    def last_row(self) -> int:
        return self.offset + len(self.items)

    @property
    def previous_url(self) -> str | None:
        return self.url(offset=max(0, self.offset - self.limit)) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        return self.url(offset=self.offset + self.limit) if self.offset + self.limit < self.total else None


async def page(session: AsyncSession, stmt: Select[Any], sorting: Sorting, sort: str, offset: int, limit: int,
               query: Mapping[str, str] | None = None, *, scalars: bool = True) -> Page:
    """``stmt`` (its filters applied, no order) counted and read one page in ``sort`` order."""
    total = int(await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    rows = await session.execute(stmt.order_by(*sorting.order_by(sort)).offset(offset).limit(limit))
    items = list(rows.scalars() if scalars else rows.all())
    return Page(items, total, offset, limit, sort, dict(query or {}))
