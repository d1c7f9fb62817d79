"""Reads of producers: the engine's view (licenses, assignments) and the API/page view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agency_common.auth import User
from agency_common.listing import Page, Sorting, page
from agency_common.pii import mask
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import eligibility as el
from appointments.sql import chunks, in_list


async def load_producers(s: AsyncSession, npns: Sequence[str], with_assignments: bool) -> dict[str, el.Producer]:
    out: dict[str, el.Producer] = {}
    ids: dict[str, str] = {}
    for part in chunks(npns):
        for pid, npn, status, active in (await s.execute(select(
                m.Producer.id, m.Producer.npn, m.Producer.sync_status, m.Producer.active)
                .where(in_list(m.Producer.npn, part)))).all():
            out[npn] = el.Producer(npn=npn, synced=status == "synced", active=active)
            ids[pid] = npn
        for row in (await s.execute(select(
                m.License.npn, m.License.state, m.License.license_number, m.License.license_class,
                m.License.lines_of_authority, m.License.active, m.License.resident, m.License.expiration_date,
                m.License.fetched_at)
                .where(in_list(m.License.npn, part)))).all():
            p = out.get(row[0])
            if p is not None:
                names = tuple(x.strip() for x in row[4].split(";") if x.strip())
                p.licenses.setdefault(row[1], []).append(el.License(
                    state=row[1], license_number=row[2], license_class=row[3],
                    lines_of_authority=frozenset(el.norm(x) for x in names),
                    active=row[5], resident=row[6], expiration_date=row[7], line_names=names, fetched_at=row[8]))
    if with_assignments and ids:
        pids = list(ids)
        for part in chunks(pids):
            for pid, cat, st, cocode in (await s.execute(select(
                    m.ProducerAssignment.producer_id, m.ProducerAssignment.loa_category, m.ProducerAssignment.state,
                    m.ProducerAssignment.cocode).where(in_list(m.ProducerAssignment.producer_id, part)))).all():
                out[ids[pid]].assignments.add((el.norm(cat), st, cocode or ""))
    return out


PII_FIELDS = ("ssn",)  # what producer_view shows in clear to a user with pii:reveal


def producer_view(p: m.Producer, user: User, pii: Any) -> dict[str, Any]:
    ssn = None
    if p.ssn_encrypted and pii is not None:
        clear = pii.decrypt(p.ssn_encrypted)
        ssn = clear if user.can("pii:reveal") else mask(clear)
    return p.model_dump(mode="json", exclude={"ssn_encrypted"}) | {"ssn": ssn}


def revealed_npns(user: User, views: Sequence[dict[str, Any]]) -> list[str]:
    """The producers among ``views`` whose PII ``producer_view`` showed in clear (to be recorded)."""
    if not user.can("pii:reveal"):
        return []
    return [v["npn"] for v in views if any(v.get(f) for f in PII_FIELDS)]


async def producer_detail(session: AsyncSession, npn: str, user: User, pii: Any) -> dict[str, Any] | None:
    """One producer with licenses and assignments, or None."""
    p = await session.scalar(select(m.Producer).where(m.Producer.npn == npn))
    if p is None:
        return None
    lics = (await session.execute(select(m.License).where(m.License.producer_id == p.id)
                                  .order_by(m.License.state))).scalars().all()
    assigns = (await session.execute(select(m.ProducerAssignment).where(
        m.ProducerAssignment.producer_id == p.id))).scalars().all()
    return producer_view(p, user, pii) | {
        "licenses": [lic.model_dump(mode="json", exclude={"producer_id"}) | {
            "lines_of_authority": [x for x in lic.lines_of_authority.split(";") if x]} for lic in lics],
        "assignments": [a.model_dump(mode="json") for a in assigns]}


P = m.Producer
PRODUCER_SORTING = Sorting({"npn": [P.npn], "name": [P.last_name], "email": [P.email], "sync_status": [P.sync_status],
                            "active": [P.active], "synced_at": [P.synced_at]}, default="name", unique=P.npn)


async def producers_page(session: AsyncSession, offset: int, limit: int, sort: str = "name", q: str = "") -> Page:
    """One page of producers, by last name then NPN unless sorted otherwise; ``q`` an NPN, or part of a last name."""
    stmt = select(P)
    if q:
        stmt = stmt.where((P.npn == q) | P.last_name.ilike(f"%{q}%"))
    return await page(session, stmt, PRODUCER_SORTING, sort, offset, limit, {"q": q})


async def producer_exists(session: AsyncSession, npn: str) -> bool:
    return await session.scalar(select(m.Producer.id).where(m.Producer.npn == npn)) is not None


async def transactions_of(session: AsyncSession, npn: str, limit: int) -> Sequence[m.AppointmentTransaction]:
    """A producer's newest transactions first."""
    T = m.AppointmentTransaction
    return (await session.execute(select(T).where(T.npn == npn).order_by(T.created_at.desc()).limit(limit))).scalars().all()


async def agency_names(session: AsyncSession) -> dict[str, str]:
    """Each agency's name by its id."""
    return dict((await session.execute(select(m.Agency.id, m.Agency.name))).all())
