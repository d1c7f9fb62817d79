"""structlog JSON logging with correlation ids and PII scrubbing.

The correlation id lives in a contextvar bound per HTTP request and per consumed Kafka message,
so every log line of one flow carries it, across services through the ``correlation_id`` header.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import structlog

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Field names whose values are PII wherever they appear in a log event.
PII_KEYS = frozenset(
    {"ssn", "dob", "date_of_birth", "medicare_id", "medicare_beneficiary_id", "drivers_license",
     "drivers_license_number", "password", "agent_ssn", "token", "access_token", "authorization"}
)
# SSN-shaped numbers inside free text: 123-45-6789, 123 45 6789 or 9 bare digits between non-digits.
_SSN_RE = re.compile(r"(?<!\d)(\d{3})[- ]?(\d{2})[- ]?(\d{4})(?!\d)")
# Medicare beneficiary ids (MBI): 11 characters, digit first, letters excluding S L O I B Z.
_MBI_RE = re.compile(r"\b[1-9][AC-HJKMNP-RT-Yac-hjkmnp-rt-y][AC-HJKMNP-RT-Yac-hjkmnp-rt-y0-9]\d"
                     r"[AC-HJKMNP-RT-Yac-hjkmnp-rt-y][AC-HJKMNP-RT-Yac-hjkmnp-rt-y0-9]\d"
                     r"[AC-HJKMNP-RT-Yac-hjkmnp-rt-y]{2}\d{2}\b")


def current_correlation_id() -> str:
    cid = correlation_id_var.get()
    if cid is None:
        cid = str(uuid.uuid4())
        correlation_id_var.set(cid)
    return cid


# Ids, not PII: a UUID may hold nine digits in a row ("…-a123456789bc") and must reach the log whole.
_UUID_RE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
                      r"(?![0-9A-Fa-f])")


def _scrub_part(text: str) -> str:
    text = _SSN_RE.sub(lambda m: f"***-**-{m.group(3)}", text)
    return _MBI_RE.sub(lambda m: "*******" + m.group(0)[-4:], text)


def scrub_text(text: str) -> str:
    """Mask SSN- and MBI-shaped values in free text (keeps the last four characters); UUIDs stay whole."""
    if "-" not in text or not _UUID_RE.search(text):
        return _scrub_part(text)
    out, at = [], 0
    for m in _UUID_RE.finditer(text):
        out += [_scrub_part(text[at:m.start()]), m.group(0)]
        at = m.end()
    out.append(_scrub_part(text[at:]))
    return "".join(out)


def scrub_value(value: Any) -> Any:
    """A JSON-like value with PII fields replaced by ``***`` and SSN/MBI shapes masked in text."""
    return _scrub(value)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: ("***" if str(k).lower() in PII_KEYS else _scrub(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def mask_pii(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: PII keys are replaced, SSN-like text masked, in every field."""
    return _scrub(event_dict)  # type: ignore[return-value]


def _add_correlation_id(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    cid = correlation_id_var.get()
    if cid and "correlation_id" not in event_dict:
        event_dict["correlation_id"] = cid
    return event_dict


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_correlation_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_pii,
    ]
    processors.append(structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer())
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Route stdlib logs (uvicorn, aiokafka, faststream) through the same scrubbing.
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger().addFilter(_StdlibScrubber())
    for name in ("aiokafka", "faststream"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


class _StdlibScrubber(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        return True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
