"""NIPR Producer Database (PDB) entity report → our producer and licenses. Pure.

NIPR's own PDB XML specification is not public. The structure read here is the one three
independent open-source parsers agree on (DOMAIN-FACTS §1.2)::

    PDB
      TRANSACTION_TYPE/TYPE            INDIVIDUAL | FIRM | HITLIST | ERROR  (ERROR/DESCRIPTION)
      PRODUCER/INDIVIDUAL (or FIRM)
        ENTITY_BIOGRAPHIC/BIOGRAPHIC   NAME_FIRST, NAME_LAST (firm: NAME_COMPANY)
        PRODUCER_LICENSING/LICENSE_INFORMATION/STATE[@name]
          LICENSE (one per license class)
            LICENSE_NUM, DATE_ISSUE_LICENSE_ORIG, DATE_EXPIRE_LICENSE, LICENSE_CLASS,
            RESIDENCY_STATUS ("Resident" / "Non-Resident"), ACTIVE ("Yes"/"Y"/"No"/"N")
            DETAILS/DETAIL (one per line of authority): LOA, STATUS

Values are normalised: NPNs stay strings (leading zeros kept), yes/no flags in every observed
spelling, dates as MM/DD/YYYY (NIPR's form) or ISO. The document is parsed with defusedxml (no
entity expansion, no external entities): it comes from outside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from xml.etree.ElementTree import Element

from agency_common.contracts.nipr import NiprLicense
from defusedxml import ElementTree as SafeET

NPN_RE = re.compile(r"^\d{1,10}$")
YES = frozenset({"yes", "y", "true", "t", "1", "active"})
NO = frozenset({"no", "n", "false", "f", "0", "inactive", ""})
RESIDENT = frozenset({"resident", "res", "r"})
NON_RESIDENT = frozenset({"non-resident", "nonresident", "non resident", "non_resident", "nr", "nonres"})


class PdbError(ValueError):
    """The PDB answered with an error other than "not found", or a document we cannot read."""


@dataclass(frozen=True)
class PdbProducer:
    npn: str
    first_name: str
    last_name: str
    active: bool
    licenses: tuple[NiprLicense, ...] = field(default_factory=tuple)


def check_npn(npn: str) -> str:
    """An NPN is a string of 1 to 10 digits: never a number (leading zeros are part of it)."""
    if not NPN_RE.match(npn or ""):
        raise ValueError(f"NPN {npn!r} must be 1 to 10 digits")
    return npn


def yes_no(value: str | None) -> bool:
    text = (value or "").strip().casefold()
    if text in YES:
        return True
    if text in NO:
        return False
    raise PdbError(f"unexpected yes/no value {value!r}")


def residency(value: str | None) -> bool:
    """True for a resident license ("Resident"), False for "Non-Resident"."""
    text = " ".join((value or "").split()).casefold()
    if text in RESIDENT:
        return True
    if text in NON_RESIDENT or not text:
        return False
    raise PdbError(f"unexpected RESIDENCY_STATUS {value!r}")


def pdb_date(value: str | None) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise PdbError(f"unexpected date {value!r}")


def _text(el: Element | None, path: str) -> str:
    return ((el.findtext(path) if el is not None else None) or "").strip()


NOT_FOUND = re.compile(r"not\s+found|no\s+(record|match|producer)|invalid\s+npn", re.IGNORECASE)


def parse_entity_report(xml: str | bytes, npn: str) -> PdbProducer | None:
    """The producer in a PDB entity report; None when the PDB has no such NPN."""
    try:
        root = SafeET.fromstring(xml)
    except SafeET.ParseError as exc:
        raise PdbError(f"the PDB answer is not XML: {exc}") from None
    if root.tag != "PDB":
        raise PdbError(f"expected a PDB document, got <{root.tag}>")
    kind = _text(root, "TRANSACTION_TYPE/TYPE").upper()
    if kind == "ERROR":
        description = _text(root, "TRANSACTION_TYPE/ERROR/DESCRIPTION") or _text(root, "ERROR/DESCRIPTION")
        if not description or NOT_FOUND.search(description):
            return None
        raise PdbError(f"PDB error: {description}")
    entity = root.find("PRODUCER/INDIVIDUAL")
    if entity is None:
        entity = root.find("PRODUCER/FIRM")
    if entity is None:
        return None
    bio = entity.find("ENTITY_BIOGRAPHIC/BIOGRAPHIC")
    first, last = _text(bio, "NAME_FIRST"), _text(bio, "NAME_LAST")
    if not (first or last):
        last = _text(bio, "NAME_COMPANY")
    licenses = []
    for st in entity.iterfind("PRODUCER_LICENSING/LICENSE_INFORMATION/STATE"):
        state = (st.get("name") or "").strip().upper()
        for lic in st.iterfind("LICENSE"):
            licenses.append(NiprLicense(
                state=state, license_number=_text(lic, "LICENSE_NUM"), license_class=_text(lic, "LICENSE_CLASS"),
                # a line is held when its STATUS is Active (others: Inactive, Expired, Suspended...)
                lines_of_authority=[_text(d, "LOA") for d in lic.iterfind("DETAILS/DETAIL")
                                    if _text(d, "LOA") and (_text(d, "STATUS") or "Active").casefold() in YES],
                active=yes_no(_text(lic, "ACTIVE")),
                resident=residency(_text(lic, "RESIDENCY_STATUS")),
                effective_date=pdb_date(_text(lic, "DATE_ISSUE_LICENSE_ORIG")),
                expiration_date=pdb_date(_text(lic, "DATE_EXPIRE_LICENSE"))))
    # The PDB has no single "NPN active" flag: a producer with no active license cannot be appointed.
    return PdbProducer(npn, first, last, any(lic.active for lic in licenses), tuple(licenses))
