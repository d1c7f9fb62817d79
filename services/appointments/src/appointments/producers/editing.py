"""Editing a producer (contact, email, addresses, agency, agent type) from the form, the API or a
re-uploaded onboarding file, and its history.

The history is the audit trail: one ``producer.changed`` row per edit, with who, when, from where
(``source``: edit or the onboarding file and its line) and each field's value before and after. The
audit trail holds no PII in clear, so personal fields' values are stored encrypted (the service's PII
keys) and read back for the history; agency and agent type are stored as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agency_common.outbox import Transaction
from agency_common.pii import PiiCipher
from agency_common.timeutil import utcnow
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appointments import models as m
from appointments.domain import producers as rules
from appointments.errors import Invalid, NotFound

ACTION = "producer.changed"


class ProducerEditError(Invalid):
    """422 with every field's error: ``{"detail": {"error": ..., "errors": {field: words}}}``."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()), errors=errors)
        self.errors = errors


def current(p: m.Producer, agency_npn: str | None) -> dict[str, Any]:
    """The producer's editable fields as an edit names them."""
    return {"first_name": p.first_name, "last_name": p.last_name, "email": p.email, "phone": p.phone,
            "business_address": p.business_address, "mailing_address": p.mailing_address,
            "agency_npn": agency_npn, "agent_type": p.agent_type}


async def agencies_by_npn(s: AsyncSession) -> dict[str, str]:
    return dict((await s.execute(select(m.Agency.npn, m.Agency.id))).all())


async def apply_changes(tx: Transaction, p: m.Producer, values: Mapping[str, Any], agencies: dict[str, str],
                        pii: PiiCipher | None, source: dict[str, Any]) -> list[str]:
    """Set the checked ``values`` that differ from the producer's and record the change; the fields changed."""
    npn_of = {aid: npn for npn, aid in agencies.items()}
    changed = rules.changes(current(p, npn_of.get(p.agency_id or "")), values)
    if not changed:
        return []
    for name, (_before, after) in changed.items():
        if name == "agency_npn":
            p.agency_id = agencies[after] if after else None
        else:
            setattr(p, name, after)
    p.updated_by, p.updated_at = tx.actor, utcnow()
    await tx.audit(ACTION, subject_type="producer", subject_id=p.id, detail={
        "npn": p.npn, "source": source, "fields": sorted(changed),
        "changes": {k: {"before": _kept(k, b, pii), "after": _kept(k, a, pii)} for k, (b, a) in changed.items()}})
    return sorted(changed)


async def edit_producer(tx: Transaction, npn: str, given: Mapping[str, Any], pii: PiiCipher | None) -> dict[str, Any]:
    """Check every field given (all errors at once, nothing written if one is wrong), change what differs."""
    s = tx.session
    p = await s.scalar(select(m.Producer).where(m.Producer.npn == npn).with_for_update())
    if p is None:
        raise NotFound("no such producer")
    agencies = await agencies_by_npn(s)
    edit = rules.check_edit(given, frozenset(agencies))
    if not edit.ok:
        raise ProducerEditError(edit.errors)
    changed = await apply_changes(tx, p, edit.values, agencies, pii, {"kind": "edit"})
    await s.flush()
    return {"npn": npn, "changed": changed}


def _kept(name: str, value: Any, pii: PiiCipher | None) -> Any:
    """A value as the history keeps it: personal ones encrypted (or not kept without a PII key)."""
    if value is None or name not in rules.PII:
        return value
    return {"encrypted": pii.encrypt(str(value))} if pii is not None else {"withheld": True}


def _shown(value: Any, pii: PiiCipher | None) -> Any:
    if isinstance(value, dict):
        if "encrypted" in value and pii is not None:
            try:
                return pii.decrypt(value["encrypted"])
            except ValueError:
                return "(cannot be read with the current keys)"
        return "(not kept)"
    return value


async def history(s: AsyncSession, audit_log: Table, npn: str, pii: PiiCipher | None, offset: int,
                  limit: int) -> tuple[int, list[dict[str, Any]]]:
    """A producer's changes, newest first, with how many there are: who, when, from where, and each
    field before and after (personal values decrypted for the reader)."""
    producer_id = await s.scalar(select(m.Producer.id).where(m.Producer.npn == npn))
    if producer_id is None:
        raise NotFound("no such producer")
    a = audit_log
    where = (a.c.subject_type == "producer") & (a.c.subject_id == producer_id) & (a.c.action == ACTION)
    total = int(await s.scalar(select(func.count()).select_from(a).where(where)) or 0)
    rows = (await s.execute(select(a.c.id, a.c.at, a.c.actor, a.c.detail).where(where)
                            .order_by(a.c.id.desc()).offset(offset).limit(limit))).all()
    out = []
    for rid, at, actor, detail in rows:
        d = json.loads(detail or "{}")
        out.append({"id": rid, "at": at.isoformat(), "by": actor, "source": d.get("source") or {},
                    "changes": [{"field": k, "label": rules.EDITABLE.get(k, (k,))[0],
                                 "before": _shown(c.get("before"), pii), "after": _shown(c.get("after"), pii)}
                                for k, c in sorted((d.get("changes") or {}).items())]})
    return total, out
