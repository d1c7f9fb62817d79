"""Invoicing's postings applied to the book of business (seed 003): the premium rule
(``domain.premium``) on each policy's terms, in batches. A posting for a policy intake does not know
is not applied and handed back (the consumer sets it aside), so it never stops the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agency_common.contracts.envelope import BULK_CHUNK
from agency_common.contracts.intake import PoliciesUpdated, PolicyChange, PolicyUpdated
from agency_common.money import round_money
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import bindparam, insert, select, update

from intake.chunking import CHUNK, chunks
from intake.models import (
    Policy,
    PolicyPosting,
    PolicyTerm,
)
from intake.policies.domain.premium import Term, apply_posting, current_term
from intake.policies.schemas import snapshot
from intake.policies.terms import TERM_COLUMNS, term_from_row, term_values


@dataclass(frozen=True)
class Posting:
    """One posted invoice as intake applies it (from ``InvoicePosted`` or an ``InvoicesPosted`` chunk)."""

    policy_id: str
    bill_type: str
    premium: Decimal
    effective_date: date | None = None
    expiration_date: date | None = None
    commission: Decimal = Decimal("0.00")
    invoice_id: str = ""
    # where it came from, kept with it for the policy's page (its reconciliation, event, actor and time)
    reconciliation_id: str | None = None
    event_id: str | None = None
    posted_by: str | None = None
    posted_at: datetime | None = None


@dataclass(frozen=True)
class Applied:
    policies: int = 0  # how many policies changed
    unknown: tuple[Posting, ...] = ()  # the postings for policies intake does not know, not applied


async def apply_invoice_postings(tx: Transaction, postings: Sequence[Posting]) -> Applied:
    """A consumed batch of postings, in order, with the same rule and result as one at a time (each
    posting bumps the policy's version): the policies and their terms read with ``IN`` per chunk,
    the rule applied in memory, the changed terms updated and the new ones inserted by
    executemany, the policies given their current term's dates and totals, and their last versions
    sent as ``PoliciesUpdated`` chunks (one policy: ``PolicyUpdated``); each applied posting is kept in
    ``policy_postings`` (the policy's page lists them). Postings for unknown policies are left out and
    returned."""
    if not postings:
        return Applied()
    p, pt = Policy.__table__, PolicyTerm.__table__
    ids = list(dict.fromkeys(x.policy_id for x in postings))
    policies: dict[str, dict[str, Any]] = {}
    terms: dict[str, tuple[Term, ...]] = {pid: () for pid in ids}
    for chunk in chunks(ids, CHUNK):
        rows = await tx.session.execute(select(p.c.id, p.c.estimated_premium, p.c.commission_rate,
                                               *(p.c[f] for f in TERM_COLUMNS)).where(p.c.id.in_(chunk)))
        policies.update((r["id"], dict(r)) for r in rows.mappings())
        for r in (await tx.session.execute(select(pt).where(pt.c.policy_id.in_(chunk)).order_by(pt.c.id))).mappings():
            terms[r["policy_id"]] += (term_from_row(r),)
    unknown = tuple(x for x in postings if x.policy_id not in policies)
    if unknown:
        postings = [x for x in postings if x.policy_id in policies]
        ids = [pid for pid in ids if pid in policies]
        if not ids:
            return Applied(0, unknown)
    stored = {t.id: t for ts in terms.values() for t in ts}
    applied: dict[str, int] = dict.fromkeys(ids, 0)
    for x in postings:
        pol = policies[x.policy_id]
        terms[x.policy_id] = apply_posting(
            terms[x.policy_id], x.bill_type, x.premium, x.commission, effective_date=x.effective_date,
            expiration_date=x.expiration_date, estimated_premium=pol["estimated_premium"], rate=pol["commission_rate"])
        applied[x.policy_id] += 1
    changed_terms = [t for ts in terms.values() for t in ts if t.id is not None and stored[t.id] != t]
    if changed_terms:
        await tx.session.execute(
            update(pt).where(pt.c.id == bindparam("b_id")).values(
                {c: bindparam(f"b_{c}", type_=pt.c[c].type) for c in TERM_COLUMNS}),
            [{"b_id": t.id, **{f"b_{c}": v for c, v in term_values(t).items()}} for t in changed_terms],
            execution_options={"synchronize_session": False})
    new_terms = [{"policy_id": pid, **term_values(t)} for pid in ids for t in terms[pid] if t.id is None]
    for part in chunks(new_terms, CHUNK):
        await tx.session.execute(insert(pt), part)
    now = utcnow()
    # as the premium rule applies them: rounded half-up to cents
    kept = [{"policy_id": x.policy_id, "invoice_id": x.invoice_id, "reconciliation_id": x.reconciliation_id,
             "bill_type": x.bill_type, "effective_date": x.effective_date, "expiration_date": x.expiration_date,
             "premium": round_money(x.premium), "commission": round_money(x.commission), "event_id": x.event_id, "posted_by": x.posted_by,
             "posted_at": x.posted_at, "applied_at": now} for x in postings]
    for part in chunks(kept, CHUNK):
        await tx.session.execute(insert(PolicyPosting.__table__), part)
    changed: dict[str, list[str]] = {}
    updates = []
    for pid in ids:
        values = term_values(current_term(terms[pid]))
        changed[pid] = [f for f, v in values.items() if policies[pid][f] != v]
        updates.append({"b_id": pid, "b_applied": applied[pid], **{f"b_{f}": v for f, v in values.items()}})
    await tx.session.execute(
        update(p).where(p.c.id == bindparam("b_id")).values(
            {**{f: bindparam(f"b_{f}", type_=p.c[f].type) for f in TERM_COLUMNS},
             "version": p.c.version + bindparam("b_applied"), "updated_at": now}),
        updates, execution_options={"synchronize_session": False})
    for chunk in chunks(ids, BULK_CHUNK):
        rows = {r["id"]: dict(r) for r in (await tx.session.execute(select(p).where(p.c.id.in_(chunk)))).mappings()}
        if len(ids) == 1:
            await tx.emit(PolicyUpdated(policy=snapshot(rows[ids[0]]), changed_fields=changed[ids[0]]))
        else:
            await tx.emit(PoliciesUpdated(changes=[PolicyChange(policy=snapshot(rows[pid]), changed_fields=changed[pid])
                                                   for pid in chunk]))
    return Applied(len(ids), unknown)
