"""Input types several services' request models share."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


# A name or number a person typed: surrounding spaces dropped, nothing but spaces refused.
NonBlankStr = Annotated[str, AfterValidator(_non_blank)]
