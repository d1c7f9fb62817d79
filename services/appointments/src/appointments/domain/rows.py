"""Bulk files (onboarding, terminations, bulk appoint): reading, row checks, templates. Pure.

Every row keeps its line number and its errors; blank rows are skipped and counted, never errors.
Multi-values are separated by ``;`` with no spaces and must be accepted values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agency_common.errors import Invalid
from agency_common.tabular import TabularError, csv_block, open_records

# NPN: a string of 1 to 10 digits, never a number (leading zeros are part of it). An agency may
# have no NPN yet: its record then carries a placeholder (AgentSync's advice: a dummy agency NPN).
NPN_RE = re.compile(r"^\d{1,10}$")
AGENCY_NPN_RE = re.compile(r"^(\d{1,10}|[A-Z][A-Z0-9-]{0,9})$")
# NAIC company code: 5 digits, leading zeros kept; an alien insurer has an NAIC alien number instead.
COCODE_RE = re.compile(r"^(\d{5}|AA-\d{7})$")
COCODE_RULE = "a CoCode is 5 digits with its leading zeros (or an NAIC alien number AA-1234567)"
EMAIL_RE = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")
SSN_RE = re.compile(r"^(\d{3})-?(\d{2})-?(\d{4})$")
# The jurisdictions the NIPR PDB covers (DOMAIN-FACTS 1.1): the 50 states, DC, Guam, Puerto Rico and
# the Virgin Islands. Anything else ("ZZ") is refused where it is typed, never sent on.
STATES = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK",
    "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "GU", "PR", "VI"))


def state_error(value: str) -> str | None:
    """Why ``value`` is not a state code, or None."""
    if value in STATES:
        return None
    return f"{value!r} is not a US state code (two letters: one of the 50 states, DC, GU, PR or VI)"

SCORECARD_TYPES = ("License", "License and Appointment")
AGENT_TYPES = ("Producer", "Captive Agent", "Independent Agent", "Employee")

ONBOARDING_COLUMNS = ("Agency NPN", "First Name", "Last Name", "Agent NPN", "Agent Email", "Agent SSN",
                      "LOA Category", "States", "Scorecard Type", "Agent Type", "CoCodes")
ONBOARDING_PII_COLUMNS = ("First Name", "Last Name", "Agent Email", "Agent SSN")  # exports recorded, SSN masked
ONBOARDING_REQUIRED = ("Agency NPN", "First Name", "Last Name", "Agent NPN")
TERMINATION_COLUMNS = ("Agent NPN", "States", "Line of Authority", "CoCode", "Termination Reason Code", "For Cause")
BULK_APPOINT_COLUMNS = ("NPN", "States", "LOA Category", "CoCodes", "Submit", "Submit Just In Time")

# Header spellings accepted for each column (case and spacing ignored).
ALIASES = {
    "state(s)": "States", "state": "States", "state code": "States",
    "cocode(s)": "CoCodes", "cocode": "CoCode", "carrier cocode": "CoCode", "carrier cocode(s)": "CoCodes",
    "termination_reason": "Termination Reason Code", "termination reason": "Termination Reason Code",
    "npn": "NPN", "agent npn": "Agent NPN", "loa": "LOA Category", "loa category": "LOA Category",
    "submitjustintime": "Submit Just In Time", "auto submit": "Submit",
    "for_cause": "For Cause", "c": "For Cause",  # the uniform appointment form's "C" column
}
# The termination file also takes the appointments report's export as it is (Related Producer, NPN,
# State Code, Line of Authority, CoCode): the seed's flow is export, edit, upload as terminations.
TERMINATION_ALIASES = {"NPN": "Agent NPN", "CoCodes": "CoCode"}
YES_NO = {"yes": True, "y": True, "true": True, "1": True, "x": True,
          "no": False, "n": False, "false": False, "0": False, "": False}


class FileError(Invalid):
    """422: the file as a whole cannot be read (not CSV, missing columns)."""


@dataclass
class ParsedRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # normalised values for processing

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass
class ParsedFile:
    rows: list[ParsedRow]
    blank_rows: int

    @property
    def valid_rows(self) -> list[ParsedRow]:
        return [r for r in self.rows if r.valid]

    @property
    def invalid_rows(self) -> list[ParsedRow]:
        return [r for r in self.rows if not r.valid]


def _canonical(header: str, columns: Iterable[str]) -> str:
    key = " ".join(header.replace("\ufeff", "").split()).casefold()
    for col in columns:
        if col.casefold() == key:
            return col
    alias = ALIASES.get(key)
    return alias if alias is not None else header.strip()


Table = list[tuple[int, dict[str, str], list[str]]]  # (line, {column: value}, cells beyond the header)


def read_table(content: bytes, columns: tuple[str, ...], required: tuple[str, ...],
               aliases: dict[str, str] | None = None, filename: str | None = None) -> tuple[Table, int]:
    """An uploaded file (CSV in any encoding and delimiter the platform reads, or a spreadsheet)
    → [(line number, {column: value}, extra cells)] and the count of blank rows. ``aliases``: this
    file's own spellings of a column (after the common ones)."""
    aliases = aliases or {}

    def name(header: str) -> str:
        col = _canonical(header, (*columns, "CoCode"))
        return aliases.get(col, col)

    try:
        records = open_records(content, filename, name=name)
        names = [n for n in records.header if n]
        missing = [c for c in required if c not in names]
        if missing:
            found = ", ".join(repr(n) for n in names) or "none"
            detected = records.info.kind + (f", delimiter {records.info.delimiter!r}" if records.info.delimiter else "")
            raise FileError(f"missing columns: {', '.join(missing)}; the header on line {records.header_line} "
                            f"has {found} ({detected}); download the template")
        rows: Table = []
        blank = 0
        for rec in records.rows:
            if rec.blank:
                blank += 1
                continue
            rows.append((rec.line, rec.values, rec.extra))
    except TabularError as exc:
        raise FileError(str(exc)) from None
    return rows, blank


def _row(line: int, values: dict[str, str], extra: list[str]) -> ParsedRow:
    row = ParsedRow(line, values)
    if extra:
        row.errors.append(f"{len(extra)} value(s) beyond the named columns ({', '.join(repr(x[:40]) for x in extra[:3])}): "
                          "a missing quote or an extra delimiter?")
    return row


def split_multi(raw: str, column: str, accepted: Iterable[str] | None, errors: list[str],
                normalise: Callable[[str], str] = lambda s: s) -> list[str]:
    """``CA;TX`` → ["CA", "TX"]; spaces or unknown values are errors on the row."""
    if not raw:
        return []
    if re.search(r"\s;|;\s|^\s|\s$", raw) or ("," in raw):
        errors.append(f"{column}: separate values with ';' and no spaces (got {raw!r})")
    parts = [normalise(p.strip()) for p in raw.split(";") if p.strip()]
    if accepted is not None:
        lookup = {a.casefold(): a for a in accepted}
        out = []
        for p in parts:
            if p.casefold() not in lookup:
                errors.append(f"{column}: {p!r} is not an accepted value")
            else:
                out.append(lookup[p.casefold()])
        parts = out
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return seen


@dataclass(frozen=True)
class AcceptedValues:
    agency_npns: frozenset[str]
    loa_categories: tuple[str, ...]
    states: tuple[str, ...]
    cocodes: tuple[str, ...]
    scorecard_types: tuple[str, ...] = SCORECARD_TYPES
    agent_types: tuple[str, ...] = AGENT_TYPES


def check_onboarding(content: bytes, accepted: AcceptedValues, filename: str | None = None) -> ParsedFile:
    table, blank = read_table(content, ONBOARDING_COLUMNS, ONBOARDING_REQUIRED, {"CoCode": "CoCodes"}, filename)
    rows: list[ParsedRow] = []
    first_line_of: dict[str, int] = {}
    for line, values, extra in table:
        row = _row(line, values, extra)
        e = row.errors
        agency = values.get("Agency NPN", "")
        if not agency:
            e.append("Agency NPN is required")
        elif not AGENCY_NPN_RE.match(agency):
            e.append(f"Agency NPN {agency!r} must be 1 to 10 digits (or the agency's placeholder)")
        elif agency not in accepted.agency_npns:
            e.append(f"Agency NPN {agency} is not a known agency")
        for col in ("First Name", "Last Name"):
            if not values.get(col):
                e.append(f"{col} is required")
            elif len(values[col]) > 100:
                e.append(f"{col} is longer than 100 characters")
        npn = values.get("Agent NPN", "")
        if not npn:
            e.append("Agent NPN is required")
        elif not NPN_RE.match(npn):
            e.append(f"Agent NPN {npn!r} must be 1 to 10 digits")
        elif npn in first_line_of:
            e.append(f"Agent NPN {npn} already appears on line {first_line_of[npn]}")
        else:
            first_line_of[npn] = line
        email = values.get("Agent Email", "")
        if email and not EMAIL_RE.match(email):
            e.append(f"Agent Email {email!r} is not an email address")
        ssn = values.get("Agent SSN", "")
        ssn_norm = None
        if ssn:
            m = SSN_RE.match(ssn)
            if not m:
                e.append("Agent SSN must be 9 digits (123-45-6789)")
            else:
                ssn_norm = "-".join(m.groups())
        assignment_cols = ("LOA Category", "States", "Scorecard Type", "Agent Type", "CoCodes")
        assignment = None
        if any(values.get(c) for c in assignment_cols):
            cats = split_multi(values.get("LOA Category", ""), "LOA Category", accepted.loa_categories, e)
            states = split_multi(values.get("States", ""), "States", accepted.states, e, str.upper)
            scorecard = split_multi(values.get("Scorecard Type", ""), "Scorecard Type", accepted.scorecard_types, e)
            agent_type = split_multi(values.get("Agent Type", ""), "Agent Type", accepted.agent_types, e)
            cocodes = split_multi(values.get("CoCodes", ""), "CoCodes", accepted.cocodes, e)
            for col, got in (("LOA Category", values.get("LOA Category")), ("States", values.get("States")),
                             ("Scorecard Type", values.get("Scorecard Type")),
                             ("Agent Type", values.get("Agent Type"))):
                if not got:
                    e.append(f"{col} is required for a producer assignment")
            if len(scorecard) > 1 or len(agent_type) > 1:
                e.append("Scorecard Type and Agent Type take one value each")
            if scorecard == ["License and Appointment"] and not values.get("CoCodes"):
                e.append("CoCodes are required for a License and Appointment scorecard")
            assignment = {"loa_categories": cats, "states": states,
                          "scorecard_type": scorecard[0] if scorecard else None,
                          "agent_type": agent_type[0] if agent_type else None, "cocodes": cocodes}
        row.data = {"agency_npn": agency, "first_name": values.get("First Name", ""),
                    "last_name": values.get("Last Name", ""), "npn": npn, "email": email or None,
                    "ssn": ssn_norm, "assignment": assignment}
        rows.append(row)
    return ParsedFile(rows, blank)


def check_terminations(content: bytes, filename: str | None = None) -> ParsedFile:
    """Each row may name several states; each state is one termination to judge (the engine's
    ``evaluate_termination``: reason code or the state's default, appointed, not already open).
    The appointments report's export is accepted as it is (its ``NPN`` is the Agent NPN)."""
    table, blank = read_table(content, TERMINATION_COLUMNS, ("Agent NPN", "States", "Line of Authority"),
                              TERMINATION_ALIASES, filename)
    rows: list[ParsedRow] = []
    for line, values, extra in table:
        row = _row(line, values, extra)
        e = row.errors
        npn = values.get("Agent NPN", "")
        if not NPN_RE.match(npn):
            e.append(f"Agent NPN {npn!r} must be 1 to 10 digits")
        row_states = split_multi(values.get("States", ""), "States", None, e, str.upper)
        e.extend(f"States: {err}" for st in row_states if (err := state_error(st)))
        if not values.get("States"):
            e.append("States is required")
        loa = values.get("Line of Authority", "")
        if not loa:
            e.append("Line of Authority is required")
        cocode = values.get("CoCode", "")
        if not cocode:
            e.append("CoCode is required")
        elif not COCODE_RE.match(cocode):
            e.append(f"CoCode: {cocode!r} is not a CoCode ({COCODE_RULE})")
        code = values.get("Termination Reason Code", "").strip().upper()
        for_cause = YES_NO.get(values.get("For Cause", "").strip().casefold())
        if for_cause is None:
            e.append(f"For Cause {values.get('For Cause')!r} must be Yes or No (blank = No)")
        row.data = {"transactions": [
            {"npn": npn, "state": st, "line_of_authority": loa, "cocode": cocode, "termination_reason_code": code,
             "defaulted": not code, "for_cause": bool(for_cause)} for st in row_states]}
        rows.append(row)
    return ParsedFile(rows, blank)


def check_bulk_appoint(content: bytes, filename: str | None = None) -> ParsedFile:
    table, blank = read_table(content, BULK_APPOINT_COLUMNS, ("NPN", "States", "LOA Category", "CoCodes"),
                              {"CoCode": "CoCodes", "Agent NPN": "NPN"}, filename)
    rows = []
    for line, values, extra in table:
        row = _row(line, values, extra)
        e = row.errors
        npn = values.get("NPN", "")
        if not NPN_RE.match(npn):
            e.append(f"NPN {npn!r} must be 1 to 10 digits")
        states = split_multi(values.get("States", ""), "States", None, e, str.upper)
        e.extend(f"States: {err}" for st in states if (err := state_error(st)))
        cocodes = split_multi(values.get("CoCodes", ""), "CoCodes", None, e)
        for c in cocodes:
            if not COCODE_RE.match(c):
                e.append(f"CoCodes: {c!r} is not a CoCode ({COCODE_RULE})")
        if not states:
            e.append("States is required")
        if not cocodes:
            e.append("CoCodes is required")
        if not values.get("LOA Category"):
            e.append("LOA Category is required")
        row.data = {"npn": npn, "states": states, "loa_category": values.get("LOA Category", ""),
                    "cocodes": cocodes, "submit": _truthy(values.get("Submit", "")),
                    "submitJustInTime": _truthy(values.get("Submit Just In Time", ""))}
        rows.append(row)
    return ParsedFile(rows, blank)


def _truthy(value: str) -> bool:
    return value.strip().casefold() in ("true", "yes", "y", "1", "x")


def to_csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    return csv_block([header, *rows]).decode()
