"""Portal invites (Create/Update Portal User); ``mail.py`` is the email adapter that sends them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from agency_common.contracts.appointments import PortalInviteRequested
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.errors import NotFound

NO_AGENCY = "Your contact does not have an associated account"
NO_EMAIL = "Your contact does not have an associated email"
NO_SEATS = "You no longer have portal seats. Email support to order more seats."


async def list_portals(session: AsyncSession, *, by_name: bool = False) -> Sequence[m.Portal]:
    stmt = select(m.Portal).order_by(m.Portal.name) if by_name else select(m.Portal)
    return (await session.execute(stmt)).scalars().all()


async def invite(tx: Transaction, portal_id: str, producer_ids: list[str]) -> dict[str, Any]:
    s = tx.session
    portal = await s.get(m.Portal, portal_id, with_for_update=True)
    if portal is None:
        raise NotFound("no such portal")
    used = int(await s.scalar(select(func.count()).select_from(m.PortalUser).where(
        m.PortalUser.portal_id == portal.id)) or 0)
    producers = {p.id: p for p in (await s.execute(
        select(m.Producer).where(m.Producer.id.in_(producer_ids)))).scalars()}
    results, events = [], []
    now = utcnow()
    for pid in dict.fromkeys(producer_ids):
        p = producers.get(pid)
        if p is None:
            results.append({"producer_id": pid, "ok": False, "error": "no such producer"})
            continue
        name = f"{p.first_name} {p.last_name}"
        if not p.agency_id:
            results.append({"producer_id": pid, "npn": p.npn, "name": name, "ok": False, "error": NO_AGENCY})
            continue
        if not p.email:
            results.append({"producer_id": pid, "npn": p.npn, "name": name, "ok": False, "error": NO_EMAIL})
            continue
        user = await s.scalar(select(m.PortalUser).where(m.PortalUser.portal_id == portal.id,
                                                         m.PortalUser.producer_id == pid))
        if user is None:
            if used >= portal.seats:
                results.append({"producer_id": pid, "npn": p.npn, "name": name, "ok": False, "error": NO_SEATS})
                continue
            used += 1
            user = m.PortalUser(producer_id=pid, portal_id=portal.id, email=p.email, invited_by=tx.actor)
            s.add(user)
            action = "created"
        else:
            user.email, user.invites_sent, user.invited_by, user.invited_at = p.email, user.invites_sent + 1, tx.actor, now
            action = "updated"
        invite_id = str(uuid.uuid4())
        events.append(PortalInviteRequested(invite_id=invite_id, portal=portal.name, producer_npn=p.npn,
                                            email=p.email, first_name=p.first_name, last_name=p.last_name))
        results.append({"producer_id": pid, "npn": p.npn, "name": name, "ok": True, "action": action,
                        "invite_id": invite_id})
    await s.flush()
    await tx.emit_many(events)
    return {"portal": portal.name, "seats": portal.seats, "seats_used": used, "results": results}

