"""Bulk work travels in chunks: one helper for every service."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive chunks of at most ``size`` (a sequence is sliced, anything else read
    lazily, so a generator of 100,000 rows is never held whole)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    if isinstance(items, Sequence):
        for start in range(0, len(items), size):
            yield items[start:start + size]
        return
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
