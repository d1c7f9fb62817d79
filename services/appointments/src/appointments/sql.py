"""SQL helpers every capability uses: chunked work and literal IN lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam

CHUNK = 2000  # rows per executemany / IN list


def in_list(column: Any, values: Sequence[str]) -> Any:
    """``column IN (...)`` with the values rendered as literals: PostgreSQL then plans with
    constants (a hashed IN list and the right index), where a 2,000-parameter generic plan could
    compare every row against every parameter. Only for validated identifiers (NPNs)."""
    return column.in_(bindparam(f"in_{column.key}", value=list(values), expanding=True, literal_execute=True))


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
