"""Parsing the values of statement cells exactly: amounts, rates and dates (pure, no I/O)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from agency_common.tabular import unneutralise

_AMOUNT_CHARS = re.compile(r"^[0-9.,]+$")
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+)?$"), "ymd"),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), "mdy"),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$"), "mdy"),
    (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2})$"), "mdy2"),
)
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_NAMED = re.compile(r"^(\d{1,2})[- ]([A-Za-z]{3})[A-Za-z]*[- ,]+(\d{4})$")
_NAMED_US = re.compile(r"^([A-Za-z]{3})[A-Za-z]*\.? (\d{1,2}),? (\d{4})$")


class ValueProblem(ValueError):
    pass


def clean(raw: str | None) -> str:
    text = (raw or "").strip()
    return unneutralise(text).strip() if text[:1] == "'" else text


_HEADER_KEY = re.compile(r"[^a-z0-9%#]+")


def header_key(text: str) -> str:
    """A header cell as compared with the known spellings: case, spaces and punctuation ignored."""
    return _HEADER_KEY.sub(" ", clean(text).casefold()).strip()


_PLAIN_AMOUNT = re.compile(r"^-?\d{1,15}(?:\.\d{1,2})?$")
_COMMON_AMOUNT = re.compile(r"^\$?(\d{1,3}(?:,\d{3}){1,4}|\d{1,15})(\.\d{1,2})?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_amount(raw: str | None) -> Decimal | None:
    """``$1,234.56``, ``(123.45)``, ``-123.45``, ``123.45-``, ``1234`` → Decimal (exact, at most
    two decimals). Empty → None."""
    text = raw.strip() if raw else ""
    if not text:
        return None
    if text[0] == "'":
        text = clean(text)
    if _PLAIN_AMOUNT.match(text):
        return Decimal(text)
    # the usual statement spellings ($1,234.56 and (1,234.56)) in one regex; the rest below
    negative = text[0] == "(" and text[-1] == ")"
    m = _COMMON_AMOUNT.match(text[1:-1] if negative else text)
    if m:
        whole, frac = m.groups()
        value = Decimal(whole.replace(",", "") + (frac or ""))
        return -value if negative else value
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    elif text.endswith("-"):
        negative, text = True, text[:-1].strip()
    if text[:1] in ("-", "+"):
        if negative:
            raise ValueProblem(f"not an amount: {raw!r}")
        negative, text = text[0] == "-", text[1:].strip()
    for symbol in ("USD", "US$", "$"):
        if text.upper().startswith(symbol):
            text = text[len(symbol):].strip()
            break
    if text[:1] == "-" and not negative:
        negative, text = True, text[1:].strip()
    if not text or not _AMOUNT_CHARS.match(text):
        raise ValueProblem(f"not an amount: {raw!r}")
    if "," in text:
        whole, _, frac = text.partition(".")
        groups = whole.split(",")
        if not groups[0] or any(len(g) != 3 for g in groups[1:]) or len(groups[0]) > 3:
            raise ValueProblem(f"not an amount (misplaced thousands separator): {raw!r}")
        text = "".join(groups) + ("." + frac if frac or text.endswith(".") else "")
    if text.count(".") > 1:
        raise ValueProblem(f"not an amount: {raw!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueProblem(f"not an amount: {raw!r}") from None
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueProblem(f"amount has more than two decimals: {raw!r}")
    if abs(value) >= Decimal("1e15"):
        raise ValueProblem(f"amount out of range: {raw!r}")
    return -value if negative else value


@lru_cache(maxsize=8192)  # statements repeat their rates and dates: parse each spelling once
def parse_rate(raw: str | None) -> Decimal | None:
    """``15%`` or ``15 %`` → 0.15; ``0.15`` → 0.15; a bare number above 1 is a percentage
    (``15`` → 0.15). At most six decimals as a fraction."""
    text = clean(raw)
    if not text:
        return None
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueProblem(f"not a rate: {raw!r}") from None
    if not value.is_finite():
        raise ValueProblem(f"not a rate: {raw!r}")
    if percent or abs(value) > 1:
        value = value / 100
    if abs(value) > 1:
        raise ValueProblem(f"rate above 100%: {raw!r}")
    value = value.normalize()
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValueProblem(f"rate has too many decimals: {raw!r}")
    return value


@lru_cache(maxsize=8192)
def parse_date(raw: str | None) -> date | None:
    """ISO (2026-01-31, 20260131), US (01/31/2026, 1-31-2026, 01/31/26), dotted day-first
    (31.01.2026), named months (31-Jan-2026, Jan 31, 2026). Empty → None."""
    text = clean(raw)
    if not text:
        return None
    try:
        m = _ISO_DATE.match(text)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _US_DATE.match(text)
        if m:
            return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        for pattern, order in _DATE_PATTERNS:
            m = pattern.match(text)
            if not m:
                continue
            a, b, c = (int(g) for g in m.groups())
            if order == "ymd":
                return date(a, b, c)
            if order == "mdy":
                return date(c, a, b)
            if order == "dmy":
                return date(c, b, a)
            return date(2000 + c if c < 70 else 1900 + c, a, b)
        m = _NAMED.match(text)
        if m and m.group(2).lower() in _MONTHS:
            return date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
        m = _NAMED_US.match(text)
        if m and m.group(1).lower() in _MONTHS:
            return date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
    except ValueError:
        raise ValueProblem(f"not a valid date: {raw!r}") from None
    raise ValueProblem(f"not a date: {raw!r}")


_SPACES = re.compile(r"\s+")
_NAME_PUNCT = re.compile(r"[.,'\"]")


def normalise_name(name: str | None) -> str:
    """Client names compare without case, punctuation and repeated spaces."""
    text = _NAME_PUNCT.sub("", (name or "").casefold())
    return _SPACES.sub(" ", text).strip()


_NUMBER_NOISE = re.compile(r"[\s\-./_]+")


def normalised_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({_NUMBER_NOISE.sub("", p).upper() for p in prefixes} - {""}, key=len, reverse=True))


def normalise_policy_number(number: str | None, prefixes: tuple[str, ...] = (), *, prepared: bool = False) -> str:
    """Upper-case, without spaces, dashes, dots and slashes, and without any configured carrier
    prefix (compared after the same normalisation; ``prepared``: prefixes already normalised)."""
    text = _NUMBER_NOISE.sub("", clean(number)).upper()
    for prefix in prefixes if prepared else normalised_prefixes(prefixes):
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text
