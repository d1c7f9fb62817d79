"""The clock Team Screens calculate with (``create_app(clock=...)``: tests set the time), for routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request


def get_clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock  # type: ignore[no-any-return]


Clock = Annotated[Callable[[], datetime], Depends(get_clock)]
