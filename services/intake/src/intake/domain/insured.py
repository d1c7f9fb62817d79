"""Who a statement line's insured is: a person (first and last name, as an individual needs) or an
organisation (kept whole: "Chen & Sons, LLC" is not a Mr LLC Chen & Sons), and insured names that
look like spreadsheet formulas, which never become client names (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PERSON, ORGANISATION = "person", "organisation"

# Words that make a name an organisation's, compared without case and dots ("L.L.C." is "llc").
_ORGANISATION_WORDS = frozenset({
    "llc", "lllp", "llp", "lp", "pllc", "plc", "pc", "pa", "ltd", "limited", "inc", "incorporated", "corp",
    "corporation", "co", "company", "companies", "gmbh", "trust", "trustee", "trustees", "estate", "foundation",
    "fund", "association", "assn", "society", "club", "ministries", "ministry", "parish", "temple", "synagogue",
    "mosque", "congregation", "diocese", "school", "schools", "academy", "university", "college", "institute",
    "district", "agency", "insurance", "assurance", "group", "partners", "partnership", "associates", "holdings",
    "enterprises", "industries", "services", "solutions", "systems", "technologies", "consulting", "construction",
    "contractors", "contracting", "builders", "properties", "realty", "management", "investments", "capital",
    "ventures", "restaurant", "cafe", "bakery", "pizza", "pizzeria", "grill", "farms", "farm", "ranch", "dairy",
    "motors", "automotive", "auto", "repair", "plumbing", "electric", "electrical", "roofing", "landscaping",
    "trucking", "logistics", "transport", "transportation", "supply", "supplies", "manufacturing", "mfg",
    "brothers", "bros", "dental", "medical", "clinic", "hospital", "health", "healthcare", "pharmacy", "firm",
    "hotel", "motel", "market", "store", "shop", "salon", "studio", "center", "centre", "coop", "cooperative",
    "council", "department", "dept", "authority", "board", "hoa", "homeowners", "condominium", "condominiums",
    "apartments", "international", "intl", "dba",
})
# Words that are also common surnames (Jude Law, Charlotte Church): an organisation's only in a name of
# three words or more ("First Baptist Church", "Wells Fargo Bank").
_SURNAME_LIKE_WORDS = frozenset({"church", "law", "bank", "union"})
_ORGANISATION_PHRASES = re.compile(
    r"(?:&|\band) (?:sons?|daughters?)\b|(?<![a-z])d/b/a(?![a-z])"
    r"|^(?:city|county|town|township|village|borough|state) of\b")
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$")
_TOKEN = re.compile(r"[a-z0-9]+|&")

_TITLE = re.compile(r"^((?:mr|mrs|ms|miss|dr|rev|prof)\.?(?:\s*(?:&|and)\s*(?:mr|mrs|ms|dr)\.?)?)\s+(?=\S)",
                    re.IGNORECASE)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "2nd", "3rd", "4th", "md", "dds", "dvm", "phd", "esq",
                       "cpa"})
_PARTICLES = frozenset({"van", "von", "de", "del", "della", "der", "den", "da", "di", "du", "la", "le", "dos",
                        "das", "ter", "ten", "bin", "al", "st"})

FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Insured:
    kind: str  # person | organisation
    name: str  # the whole name, spaces collapsed: what the client keeps
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None


def formula_reason(name: str) -> str | None:
    """Why a name must not become a client name (a spreadsheet would run it), or None."""
    text = name.lstrip(" ")
    first = name[:1] if name[:1] in ("\t", "\r") else text[:1]
    if first in ("\t", "\r") or (first and first in FORMULA_STARTS):
        shown = text.strip()[:40]
        return (f"the insured name {shown!r} looks like a spreadsheet formula (it starts with {first!r}): "
                "it is not used as a client name; give the line a client name override")
    return None


def _is_organisation(text: str) -> bool:
    plain = text.casefold().replace(".", "").replace("'", "").replace("\u2019", "")
    if plain.startswith("the ") or _ORGANISATION_PHRASES.search(plain):
        return True
    tokens = _TOKEN.findall(plain)
    words = [t for t in tokens if t != "&"]
    for word in words:
        if word in _ORGANISATION_WORDS:
            return True
        if word in _SURNAME_LIKE_WORDS and len(words) >= 3:
            return True
        if any(c.isdigit() for c in word) and not _ORDINAL.match(word):
            return True
    # "Smith & Wesson", "Procter & Gamble": two single words joined (a couple names a surname too)
    return "," not in text and tokens.count("&") == 1 and len(tokens) == 3 and tokens[1] == "&"


def _bare(word: str) -> str:
    return word.casefold().replace(".", "")


def _person(whole: str, text: str, title: str | None) -> Insured:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    suffix = [p for p in parts[1:] if _bare(p) in _SUFFIXES]
    parts = [p for p in parts if p not in suffix] or parts
    if len(parts) >= 2:  # "Last, First"
        return Insured(PERSON, whole, " ".join(parts[1:]), " ".join([parts[0], *suffix]), title)
    words = parts[0].split()
    while len(words) > 1 and _bare(words[-1]) in _SUFFIXES:
        suffix.insert(0, words.pop())
    if len(words) == 1:
        return Insured(PERSON, whole, None, " ".join([words[0], *suffix]), title)
    cut = len(words) - 1  # the last name takes its particles: "van Beethoven", "de la Cruz"
    while cut > 1 and _bare(words[cut - 1]) in _PARTICLES:
        cut -= 1
    return Insured(PERSON, whole, " ".join(words[:cut]), " ".join([*words[cut:], *suffix]), title)


def classify_insured(name: str) -> Insured:
    """A person or an organisation, by the words of its name: a legal form (LLC, Inc, Corp, Co, Ltd,
    LLP, PLLC), "& Sons", DBA, or a word only a business, trust, church or school carries. Anything
    else is a person: "Last, First" or "First [Middle] Last", a title and a suffix kept apart."""
    text = " ".join(name.split())
    if _is_organisation(text):
        return Insured(ORGANISATION, text)
    m = _TITLE.match(text)
    title = " ".join(m.group(1).split()) if m else None
    return _person(text, text[m.end():] if m else text, title)
