"""Response headers every page and API answer carries (ASVS V14.4, V3.4).

The dashboards still use inline event handlers (confirmations), so ``script-src`` allows inline
scripts; everything else is this origin only, and no other site may frame a page.
"""

from __future__ import annotations

import re

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

BASE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def security_headers(path: str, *, https_only: bool) -> dict[str, str]:
    """The headers for an answer at ``path``: static files may be cached; nothing else (pages and
    API answers hold business data and PII) is stored by a browser or proxy."""
    headers = dict(BASE_HEADERS)
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if https_only:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def accepted_correlation_id(value: str | None) -> str | None:
    """A caller's correlation id, if it is a sane one (never echo 70 KB back, nor control characters)."""
    return value if value and CORRELATION_ID.fullmatch(value) else None
