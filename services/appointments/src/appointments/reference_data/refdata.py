"""Reference data: loading from files (and from one dashboard form row, through the same checks),
listing, and the indexed snapshot the eligibility engine evaluates against.

Effective-dated kinds (state settings, business rules, termination reasons, fees) only ever get
new rows; agencies, companies, portals and settings are records edited in place (audited by
``recorded_by``/``updated_by``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.tabular import TabularError, open_records
from agency_common.timeutil import utcnow
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import vocabulary as v
from appointments.domain.eligibility import RefData, effective
from appointments.domain.rows import AGENCY_NPN_RE, COCODE_RE, COCODE_RULE, state_error
from appointments.errors import Invalid

DEV_DATA = Path(__file__).parent / "refdata"


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    dated: bool


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("agencies", "Agencies", ("npn", "name"), ("npn", "name"), False),
    Kind("companies", "Companies", ("name", "cocodes", "loa_categories", "fein"), ("name", "cocodes"), False),
    Kind("company_state_settings", "Company state settings",
         ("cocode", "state", "appoints", "jit", "company_license_id", "effective_date", "source"),
         ("cocode", "state", "effective_date", "source"), True),
    Kind("business_rules", "Gateway business rules",
         ("state", "loa_category", "line_of_authority", "active", "effective_date", "source"),
         ("state", "loa_category", "line_of_authority", "effective_date", "source"), True),
    Kind("termination_reasons", "Termination reason codes",
         ("state", "code", "description", "accepted", "is_default", "effective_date", "source"),
         ("state", "code", "effective_date", "source"), True),
    Kind("state_fees", "State appointment fees", ("state", "appointment_fee", "effective_date", "source"),
         ("state", "appointment_fee", "effective_date", "source"), True),
    Kind("termination_filing", "Termination filing rules",
         ("state", "for_cause_electronic", "instructions", "effective_date", "source"),
         ("state", "for_cause_electronic", "effective_date", "source"), True),
    Kind("settings", "Settings", ("name", "value"), ("name", "value"), False),
    Kind("portals", "Portals", ("name", "seats"), ("name", "seats"), False),
)}
LOAD_ORDER = ("agencies", "companies", "company_state_settings", "business_rules", "termination_reasons",
              "state_fees", "termination_filing", "settings", "portals")
SETTINGS = {v.ASSIGNMENT_REQUIRED: "Appointment Producer Assignment Required"}


class RefDataError(Invalid):
    """422 with every problem found: ``{"detail": {"errors": [...]}}``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:20]))
        self.errors = errors
        self.detail = {"errors": errors}


def _bool(value: str, default: bool) -> bool:
    if value == "":
        return default
    low = value.strip().casefold()
    if low in ("true", "yes", "y", "1"):
        return True
    if low in ("false", "no", "n", "0"):
        return False
    raise ValueError(f"{value!r} is not true/false")


class RefDataFile(NamedTuple):
    rows: list[dict[str, str]]
    lines: list[int]  # each row's line in the file


def parse_file(kind_name: str, content: bytes, filename: str | None = None) -> RefDataFile:
    """A reference data upload read with the platform's reader (any encoding, delimiter or
    spreadsheet); a required column missing, or a value beyond the named columns, is an error."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise RefDataError([f"unknown reference data kind {kind_name!r}"])
    try:
        records = open_records(content, filename, name=lambda h: h.strip().lower())
        missing = [c for c in kind.required if c not in records.header and not (c == "source" and kind.dated)]
        if missing:
            found = ", ".join(repr(h) for h in records.header if h) or "none"
            raise RefDataError([(f"missing columns: {', '.join(missing)}; the header on line {records.header_line} "
                                 f"has {found}; download the template")])
        out = RefDataFile([], [])
        errors = []
        for rec in records.rows:
            if rec.blank:
                continue
            if rec.extra:
                errors.append(f"line {rec.line}: {len(rec.extra)} value(s) beyond the named columns "
                              "(a missing quote or an extra delimiter?)")
            out.rows.append(rec.values)
            out.lines.append(rec.line)
    except TabularError as exc:
        raise RefDataError([str(exc)]) from None
    if errors:
        raise RefDataError(errors)
    return out


async def load_rows(tx: Transaction, kind_name: str, rows: list[dict[str, str]] | RefDataFile,
                    source_default: str | None = None) -> int:
    """Check every row (all errors at once) and insert them; nothing is stored if any row is wrong.
    A file's rows are named by their lines in the file; rows from a form or the API from 2 on."""
    lines = rows.lines if isinstance(rows, RefDataFile) else list(range(2, len(rows) + 2))
    rows = rows.rows if isinstance(rows, RefDataFile) else rows
    kind = KINDS.get(kind_name)
    if kind is None:
        raise RefDataError([f"unknown reference data kind {kind_name!r}"])
    s = tx.session
    errors: list[str] = []
    out: list[dict[str, Any]] = []
    now = utcnow()
    cocodes = dict((await s.execute(select(m.CompanyCocode.cocode, m.CompanyCocode.company_id))).all())
    for i, row in zip(lines, rows, strict=True):
        if source_default and not row.get("source"):
            row["source"] = source_default
        missing = [c for c in kind.required if not row.get(c)]
        if missing:
            errors.append(f"line {i}: missing {', '.join(missing)}")
            continue
        try:
            rec: dict[str, Any] = {"recorded_by": tx.actor, "recorded_at": now} if kind_name != "settings" else {}
            if kind.dated:
                rec["effective_date"] = date.fromisoformat(row["effective_date"])
                rec["source"] = row["source"][:300]
            if "state" in kind.columns:
                st = row["state"].upper()
                if err := state_error(st):
                    raise ValueError(f"state {err}")
                rec["state"] = st
            if kind_name == "agencies":
                if not AGENCY_NPN_RE.match(row["npn"]):
                    raise ValueError(f"agency NPN {row['npn']!r} must be 1 to 10 digits, or a placeholder "
                                     "(a capital letter then up to 9 capitals, digits or '-')")
                rec |= {"npn": row["npn"], "name": row["name"]}
            elif kind_name == "companies":
                codes = [c for c in row["cocodes"].split(";") if c]
                bad = [c for c in codes if not COCODE_RE.match(c)]
                if bad:
                    raise ValueError(f"not CoCodes ({COCODE_RULE}): {bad}")
                rec |= {"name": row["name"], "fein": row.get("fein") or None, "cocodes": codes,
                        "loa_categories": ";".join(c.strip() for c in row.get("loa_categories", "").split(";") if c.strip())}
            elif kind_name == "company_state_settings":
                if row["cocode"] not in cocodes:
                    raise ValueError(f"CoCode {row['cocode']} is not a known company CoCode")
                rec |= {"company_id": cocodes[row["cocode"]], "appoints": _bool(row.get("appoints", ""), True),
                        "jit": _bool(row.get("jit", ""), False), "company_license_id": row.get("company_license_id") or None}
            elif kind_name == "business_rules":
                rec |= {"loa_category": row["loa_category"], "line_of_authority": row["line_of_authority"],
                        "active": _bool(row.get("active", ""), True)}
            elif kind_name == "termination_reasons":
                rec |= {"code": row["code"].upper(), "description": row.get("description") or row["code"],
                        "accepted": _bool(row.get("accepted", ""), True), "is_default": _bool(row.get("is_default", ""), False)}
            elif kind_name == "termination_filing":
                rec |= {"for_cause_electronic": _bool(row["for_cause_electronic"], True),
                        "instructions": (row.get("instructions") or None) and row["instructions"][:500]}
            elif kind_name == "state_fees":
                try:
                    fee = Decimal(row["appointment_fee"].replace("$", "").replace(",", ""))
                except InvalidOperation:
                    raise ValueError(f"fee {row['appointment_fee']!r} is not an amount") from None
                if fee < 0:
                    raise ValueError("fee must not be negative")
                rec["appointment_fee"] = round_money(fee)
            elif kind_name == "settings":
                if row["name"] not in SETTINGS:
                    raise ValueError(f"unknown setting {row['name']!r}")
                rec = {"name": row["name"], "value": str(_bool(row["value"], False)).lower(),
                       "updated_by": tx.actor, "updated_at": now}
            elif kind_name == "portals":
                seats = int(row["seats"])
                if seats < 0:
                    raise ValueError("seats must not be negative")
                rec |= {"name": row["name"], "seats": seats}
        except (ValueError, KeyError) as exc:
            errors.append(f"line {i}: {exc}")
            continue
        out.append(rec)
    if errors:
        raise RefDataError(errors)
    await _store(s, kind_name, out)
    return len(out)


async def _store(s: AsyncSession, kind_name: str, recs: list[dict[str, Any]]) -> None:
    if not recs:
        return
    table = {"company_state_settings": m.CompanyStateSetting, "business_rules": m.BusinessRule,
             "termination_reasons": m.TerminationReason, "state_fees": m.StateFee,
             "termination_filing": m.TerminationFilingRule}.get(kind_name)
    if table is not None:
        await s.execute(insert(table.__table__), recs)
        return
    if kind_name == "agencies":
        for r in recs:
            existing = await s.scalar(select(m.Agency).where(m.Agency.npn == r["npn"]))
            if existing:
                existing.name, existing.recorded_by, existing.recorded_at = r["name"], r["recorded_by"], r["recorded_at"]
            else:
                s.add(m.Agency(**r))
    elif kind_name == "companies":
        for r in recs:
            codes = r.pop("cocodes")
            company = await s.scalar(select(m.Company).where(m.Company.name == r["name"]))
            if company:
                for k, val in r.items():
                    setattr(company, k, val)
            else:
                company = m.Company(**r)
                s.add(company)
                await s.flush()
            for code in codes:
                owner = await s.get(m.CompanyCocode, code)
                if owner is None:
                    s.add(m.CompanyCocode(cocode=code, company_id=company.id))
                elif owner.company_id != company.id:
                    raise RefDataError([f"CoCode {code} already belongs to another company"])
    elif kind_name == "settings":
        for r in recs:
            existing = await s.get(m.ServiceSetting, r["name"])
            if existing:
                existing.value, existing.updated_by, existing.updated_at = r["value"], r["updated_by"], r["updated_at"]
            else:
                s.add(m.ServiceSetting(**r))
    elif kind_name == "portals":
        for r in recs:
            existing = await s.scalar(select(m.Portal).where(m.Portal.name == r["name"]))
            if existing:
                existing.seats, existing.recorded_by, existing.recorded_at = r["seats"], r["recorded_by"], r["recorded_at"]
            else:
                s.add(m.Portal(**r))
    await s.flush()


async def load_dev_dataset(runtime: Any, directory: Path = DEV_DATA) -> bool:
    """The shipped dev dataset, once, into an empty database."""
    async with runtime.uow(actor="dev-dataset") as tx:
        if await tx.session.scalar(select(func.count()).select_from(m.Company)):
            return False
        for kind in LOAD_ORDER:
            path = directory / f"{kind}.csv"
            if path.exists():
                await load_rows(tx, kind, parse_file(kind, path.read_bytes(), path.name))
    return True


async def setting(s: AsyncSession, name: str) -> bool:
    row = await s.get(m.ServiceSetting, name)
    return bool(row and row.value == "true")


async def snapshot(s: AsyncSession, as_of: date | None = None) -> RefData:
    """Everything the engine needs, in a handful of queries, indexed in memory."""
    as_of = as_of or utcnow().date()

    async def rows(model: Any) -> list[Any]:
        pk = list(model.__table__.primary_key.columns)
        return list((await s.execute(select(model).order_by(*pk))).scalars())

    return RefData.build(
        as_of, companies=await rows(m.Company), cocodes=await rows(m.CompanyCocode),
        state_settings=await rows(m.CompanyStateSetting), business_rules=await rows(m.BusinessRule),
        fees=await rows(m.StateFee), termination_reasons=await rows(m.TerminationReason),
        assignment_required=await setting(s, v.ASSIGNMENT_REQUIRED), filing_rules=await rows(m.TerminationFilingRule))


async def listing(s: AsyncSession, kind_name: str, as_of: date | None = None) -> list[dict[str, Any]]:
    """Rows of a kind for the dashboard and API; dated kinds say which row is in force today."""
    as_of = as_of or utcnow().date()
    if kind_name == "companies":
        codes: dict[str, list[str]] = {}
        for c in (await s.execute(select(m.CompanyCocode))).scalars():
            codes.setdefault(c.company_id, []).append(c.cocode)
        return [r.model_dump(mode="json") | {"cocodes": ";".join(sorted(codes.get(r.id, [])))}
                for r in (await s.execute(select(m.Company).order_by(m.Company.name))).scalars()]
    model = {"agencies": m.Agency, "settings": m.ServiceSetting, "portals": m.Portal,
             "company_state_settings": m.CompanyStateSetting, "business_rules": m.BusinessRule,
             "termination_reasons": m.TerminationReason, "state_fees": m.StateFee,
             "termination_filing": m.TerminationFilingRule}[kind_name]
    records = list((await s.execute(select(model))).scalars())
    if not KINDS[kind_name].dated:
        return [r.model_dump(mode="json") for r in records]
    keyfn = {"company_state_settings": lambda r: (r.company_id, r.state),
             "business_rules": lambda r: (r.state, r.loa_category.casefold(), r.line_of_authority.casefold()),
             "termination_reasons": lambda r: (r.state, r.code),
             "state_fees": lambda r: r.state, "termination_filing": lambda r: r.state}[kind_name]
    in_force = {id(r) for r in effective(records, keyfn, as_of).values()}
    extra: dict[str, str] = {}
    if kind_name == "company_state_settings":
        names = dict((await s.execute(select(m.Company.id, m.Company.name))).all())
        extra = names
    out = []
    for r in sorted(records, key=lambda r: (keyfn(r), r.effective_date, r.recorded_at)):
        d = r.model_dump(mode="json") | {"in_force": id(r) in in_force,
                                         "future": r.effective_date > as_of}
        if extra:
            d["company"] = extra.get(r.company_id, "")
        out.append(d)
    return out


async def set_setting(tx: Transaction, name: str, value: bool) -> None:
    await load_rows(tx, "settings", [{"name": name, "value": "true" if value else "false"}])


