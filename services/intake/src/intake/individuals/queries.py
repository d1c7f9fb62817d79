"""Reads of individuals shared by the API, the pages and the jobs: Individual Advanced Search
(with its policy filters), its CSV export, previews, sales records, the audit trail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from agency_common.listing import Page, Sorting, page
from agency_common.pii import PiiCipher, mask
from agency_common.tabular import csv_bytes_paged
from sqlalchemy import and_, exists, false, func, or_, select

from intake.carriers.rules import carrier_key
from intake.errors import NotFound, UseCaseError
from intake.individuals.domain.fields import (
    PII_FIELDS,
)
from intake.individuals.pii import clear_values
from intake.individuals.schemas import SearchCriteria
from intake.models import Individual, IndividualAudit, Policy, SalesRecord, SavedSearch

IND = Individual.__table__
SR = SalesRecord.__table__
POL = Policy.__table__


SORTS = {"last_name": IND.c.last_name, "first_name": IND.c.first_name, "state": IND.c.state,
         "created_at": IND.c.created_at, "record_status": IND.c.record_status}


def search_conditions(c: SearchCriteria) -> list[Any]:
    conds: list[Any] = []
    if c.name:
        like = f"%{c.name.lower()}%"
        conds.append(or_(func.lower(IND.c.first_name).like(like), func.lower(IND.c.last_name).like(like),
                         func.lower(IND.c.nickname).like(like)))
    for f in ("first_name", "last_name"):
        if getattr(c, f):
            conds.append(func.lower(IND.c[f]) == getattr(c, f).lower())
    for f in ("record_status", "state", "city", "zip_code", "servicing_agent", "lead_source", "gender",
              "smoker_status"):
        if getattr(c, f):
            conds.append(IND.c[f] == getattr(c, f))
    if c.has_sales_record is not None:
        linked = exists().where(SR.c.individual_id == IND.c.id)
        conds.append(linked if c.has_sales_record else ~linked)
    pconds = []
    if c.policy_line_of_business:
        pconds.append(POL.c.line_of_business == c.policy_line_of_business)
    if c.policy_status:
        pconds.append(POL.c.status == c.policy_status)
    if c.policy_carrier:
        pconds.append(func.lower(POL.c.carrier) == carrier_key(c.policy_carrier))  # names are kept tidy
    if c.policy_effective_from:
        pconds.append(POL.c.effective_date >= c.policy_effective_from)
    if c.policy_effective_to:
        pconds.append(POL.c.effective_date <= c.policy_effective_to)
    if c.policy_renewal_from:
        pconds.append(POL.c.expiration_date >= c.policy_renewal_from)
    if c.policy_renewal_to:
        pconds.append(POL.c.expiration_date <= c.policy_renewal_to)
    if pconds:
        # set-based: the clients of the policies meeting every policy filter (an index range scan),
        # then the individuals of those clients (unique index on individuals.client_id)
        conds.append(IND.c.client_id.in_(select(POL.c.client_id).where(POL.c.client_id.is_not(None), *pconds)))
    return conds


async def search(session: Any, c: SearchCriteria, *, sort: str = "last_name", limit: int = 50,
                 offset: int = 0) -> tuple[int, list[Individual]]:
    desc = sort.startswith("-")
    col = SORTS.get(sort.lstrip("-"))
    if col is None:
        raise UseCaseError(f"sort must be one of {', '.join(SORTS)} (prefix - for descending)")
    conds = search_conditions(c)
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(IND).where(where))
    return total or 0, await _page(session, where, col.desc() if desc else col.asc(), limit, offset)


async def search_pages(session: Any, c: SearchCriteria, page_size: int = 2000) -> AsyncIterator[list[Individual]]:
    """Every individual the search finds, a page at a time in the search's order (exports)."""
    conds = search_conditions(c)
    where = and_(*conds) if conds else True
    offset = 0
    while rows := await _page(session, where, SORTS["last_name"].asc(), page_size, offset):
        yield rows
        offset += page_size


async def _page(session: Any, where: Any, order: Any, limit: int, offset: int) -> list[Individual]:
    # the page's ids first (index-only where the indexes cover the filters), then their rows
    ids = list((await session.execute(select(IND.c.id).where(where).order_by(
        order, IND.c.id).limit(limit).offset(offset))).scalars())
    found: dict[str, Individual] = {}
    for i in range(0, len(ids), 500):
        found.update({r.id: r for r in (await session.execute(
            select(Individual).where(Individual.id.in_(ids[i:i + 500])))).scalars()})
    return [found[i] for i in ids if i in found]


EXPORT_FIELDS = ("first_name", "middle_name", "last_name", "record_status", "servicing_agent", "primary_email",
                 "cell_phone", "address_line1", "city", "state", "zip_code", "dob", "ssn", "medicare_id",
                 "drivers_license")


def export_rows(rows: list[Individual], cipher: PiiCipher, reveal: bool) -> Iterator[list[Any]]:
    """Search results as CSV rows (id, then EXPORT_FIELDS), PII masked unless the user may reveal it."""
    for ind in rows:
        v = clear_values(ind, cipher)
        yield [ind.id, *[(v[f] if reveal or f not in PII_FIELDS else mask(v[f])) or "" for f in EXPORT_FIELDS]]


def search_export_csv(db: Any, c: SearchCriteria, cipher: PiiCipher, reveal: bool) -> AsyncIterator[bytes]:
    """The whole result as CSV, read page by page while it streams (one read session for the export)."""
    async def pages() -> AsyncIterator[Iterator[list[Any]]]:
        async with db.session() as session:
            async for rows in search_pages(session, c):
                yield export_rows(rows, cipher, reveal)  # lazy: decrypted in csv_bytes_paged's thread
    return csv_bytes_paged(["id", *EXPORT_FIELDS], pages())


async def resolve_criteria(session: Any, criteria: SearchCriteria | None, saved_search_id: str | None) -> SearchCriteria:
    if saved_search_id:
        saved = await session.get(SavedSearch, saved_search_id)
        if saved is None:
            raise NotFound("no such saved search")
        return SearchCriteria.model_validate_json(saved.criteria)
    if criteria is None:
        raise UseCaseError("give search criteria or a saved search")
    return criteria


async def preview_counts(session: Any, c: SearchCriteria) -> dict[str, int]:
    conds = search_conditions(c)
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(IND).where(where)) or 0
    linked = await session.scalar(select(func.count()).select_from(IND).where(
        where, exists().where(SR.c.individual_id == IND.c.id))) or 0
    return {"total": total, "will_create": total - linked, "will_skip": linked}


async def list_sales_records(session: Any, *, sales_record_type: str | None = None, job_id: str | None = None,
                             individual_id: str | None = None, limit: int = 50, offset: int = 0
                             ) -> tuple[int, list[SalesRecord]]:
    conds = [c for c in (SR.c.sales_record_type == sales_record_type if sales_record_type else None,
                         SR.c.job_id == job_id if job_id else None,
                         SR.c.individual_id == individual_id if individual_id else None) if c is not None]
    where = and_(*conds) if conds else True
    total = await session.scalar(select(func.count()).select_from(SR).where(where)) or 0
    rows = (await session.execute(select(SalesRecord).where(where).order_by(SalesRecord.created_at, SalesRecord.id)
                                  .limit(limit).offset(offset))).scalars().all()
    return total, list(rows)


async def audits_of(session: Any, individual_id: str) -> list[dict[str, Any]]:
    rows = (await session.execute(select(IndividualAudit).where(IndividualAudit.individual_id == individual_id)
                                  .order_by(IndividualAudit.at, IndividualAudit.id))).scalars().all()
    return [{"action": a.action, "actor": a.actor, "at": a.at.isoformat(), "details": json.loads(a.details)} for a in rows]


INDIVIDUAL_POLICY_SORTING = Sorting(
    columns={"carrier": [POL.c.carrier, POL.c.policy_number], "policy_number": [POL.c.policy_number],
             "line_of_business": [POL.c.line_of_business], "status": [POL.c.status],
             "effective_date": [POL.c.effective_date], "expiration_date": [POL.c.expiration_date]},
    default="-effective_date", unique=POL.c.id)
INDIVIDUAL_RECORD_SORTING = Sorting(
    columns={"created_at": [SR.c.created_at], "sales_record_type": [SR.c.sales_record_type]},
    default="-created_at", unique=SR.c.id)


async def individual_policies(session: Any, client_id: str | None, sort: str, offset: int, limit: int,
                              query: dict[str, str] | None = None) -> Page:
    """The policies of the individual's client, a page in ``sort`` order (none without a client)."""
    stmt = select(Policy).where(POL.c.client_id == client_id) if client_id else select(Policy).where(false())
    return await page(session, stmt, INDIVIDUAL_POLICY_SORTING, sort, offset, limit, query)


async def individual_sales_records(session: Any, individual_id: str, sort: str, offset: int, limit: int,
                                   query: dict[str, str] | None = None) -> Page:
    return await page(session, select(SalesRecord).where(SR.c.individual_id == individual_id),
                      INDIVIDUAL_RECORD_SORTING, sort, offset, limit, query)



SS = SavedSearch.__table__
SAVED_SEARCH_SORTING = Sorting(
    columns={"name": [func.lower(SS.c.name)], "owner": [SS.c.owner], "created_at": [SS.c.created_at]},
    default="-created_at", unique=SS.c.id)


async def saved_searches(session: Any, sort: str, offset: int, limit: int, owner: str | None = None,
                         query: dict[str, str] | None = None) -> Page:
    """The saved searches (of one owner, or all), a page in ``sort`` order."""
    stmt = select(SavedSearch).where(SS.c.owner == owner) if owner else select(SavedSearch)
    return await page(session, stmt, SAVED_SEARCH_SORTING, sort, offset, limit, query)


SALES_RECORD_SORTING = Sorting(
    columns={"created_at": [SR.c.created_at], "sales_record_type": [SR.c.sales_record_type],
             "assigned_user": [SR.c.assigned_user], "converted_at": [SR.c.converted_at]},
    default="created_at", unique=SR.c.id)


async def sales_records(session: Any, *, sales_record_type: str | None, job_id: str | None, sort: str, offset: int,
                        limit: int, query: dict[str, str] | None = None) -> Page:
    """The sales records list (by type, by job), a page in ``sort`` order with how many there are."""
    conds = [c for c in (SR.c.sales_record_type == sales_record_type if sales_record_type else None,
                         SR.c.job_id == job_id if job_id else None) if c is not None]
    return await page(session, select(SalesRecord).where(*conds), SALES_RECORD_SORTING, sort, offset, limit, query)
