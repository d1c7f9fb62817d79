"""The bulk-write chunk size shared by intake's capabilities, and the one helper that cuts a list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

CHUNK = 1000


def chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]
