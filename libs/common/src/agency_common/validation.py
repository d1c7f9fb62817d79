"""Input types several services' request models share, and the rule for control characters."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls but tab, newline and carriage return; DEL; C1 controls; lone surrogates (no database
# encodes them). Multi-line free text may hold the three; a single-line value (a name) holds none.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BREAKS = {"\t": "tab", "\n": "line feed", "\r": "carriage return"}


def control_problem(value: str, *, multiline: bool = True) -> str | None:
    """Why ``value`` is refused for the characters in it, in words; None when it is fine."""
    found = (_CONTROL if multiline else _CONTROL_SINGLE_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        return "NUL characters are not accepted"
    if "\ud800" <= char <= "\udfff":
        return f"not valid UTF-8 text ({code}: a lone surrogate, or a byte that is not UTF-8)"
    if char in "\t\n\r":
        return f"must be one line (a {_BREAKS[char]}, {code}, was found)"
    return f"control characters are not accepted ({code} at position {found.start() + 1})"


def _single_line(value: str) -> str:
    if problem := control_problem(value, multiline=False):
        raise ValueError(problem)
    return value


def _free_text(value: str) -> str:
    if problem := control_problem(value):
        raise ValueError(problem)
    return value


def _non_blank(value: str) -> str:
    value = _single_line(value.strip())
    if not value:
        raise ValueError("must not be blank")
    return value


# A name or number a person typed: surrounding spaces dropped, nothing but spaces refused, one line.
NonBlankStr = Annotated[str, AfterValidator(_non_blank)]
# A single-line value that may be blank (an optional name, a reference).
SingleLineStr = Annotated[str, AfterValidator(_single_line)]
# Free text that may run over lines (notes, reasons): tab and line breaks kept, other controls refused.
FreeText = Annotated[str, AfterValidator(_free_text)]
