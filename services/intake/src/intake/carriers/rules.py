"""Pure rules of the carrier registry."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from agency_common.contracts.intake import carrier_key

__all__ = ["carrier_key", "closest", "distinct_names", "naic_problem", "tidy_name"]

NAIC_CODE = re.compile(r"\d{5}")


def tidy_name(name: str) -> str:
    """A name as it is kept: single spaces, no leading or trailing ones."""
    return " ".join(name.split())


def distinct_names(names: Iterable[str]) -> list[str]:
    """Tidied names in their order, blanks and repeats (by key) dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        tidy = tidy_name(name)
        if tidy and carrier_key(tidy) not in seen:
            seen.add(carrier_key(tidy))
            out.append(tidy)
    return out


def naic_problem(code: str | None) -> str | None:
    if code is None or code == "":
        return None
    if not NAIC_CODE.fullmatch(code):
        return f"the NAIC company code is 5 digits (leading zeros kept), not {code!r}"
    return None


def closest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The registered names nearest to an unknown one, for "did you mean …?"."""
    by_key = {carrier_key(c): c for c in candidates}
    return [by_key[k] for k in difflib.get_close_matches(carrier_key(name), list(by_key), n=limit, cutoff=0.6)]
