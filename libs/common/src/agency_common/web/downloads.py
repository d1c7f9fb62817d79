"""The ``Content-Disposition`` of a download: any file name a user uploaded (``Prämien März.csv``,
``保单.csv``, quotes, line breaks) gives a header every browser reads and no header can be forged from.
RFC 6266: a plain ASCII ``filename`` for old clients and ``filename*`` with the exact UTF-8 name."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

UNSAFE_IN_QUOTES = re.compile(r'[^A-Za-z0-9 ._()+,=@\[\]{}~!#$%&\'^-]')


def attachment(filename: str, fallback: str = "download") -> dict[str, str]:
    exact = "".join(c for c in filename if unicodedata.category(c)[0] != "C").strip() or fallback
    ascii_name = unicodedata.normalize("NFKD", exact).encode("ascii", "ignore").decode()
    ascii_name = UNSAFE_IN_QUOTES.sub("_", ascii_name).strip() or fallback
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != exact:
        disposition += f"; filename*=UTF-8''{quote(exact, safe='')}"
    return {"Content-Disposition": disposition}
