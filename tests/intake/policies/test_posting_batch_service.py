"""Postings from invoicing applied as a consumed batch give exactly what applying them one at a time,
in order, gives (seed 003 bill types: term policy replacing, cancellation, installment, audit,
endorsement; several postings per policy in one batch; renewals starting terms of their own), and
one PolicyUpdated per policy."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from agency_common.contracts.envelope import make_envelope
from agency_common.contracts.invoicing import InvoicePosted
from agency_common.messaging.consumer import PermanentError
from intake.carriers.registry import CarrierIn, find_carrier, register_carrier
from intake.consumers import on_invoices_posted
from intake.models import Policy, PolicyTerm
from intake.policies.domain.premium import Term, apply_posting, current_term
from intake.policies.postings import Posting, apply_invoice_postings
from intake.policies.schemas import NewPolicy
from intake.policies.usecases import create_policy
from sqlalchemy import select

D = date
POLICIES = {  # name: (effective, expiration)
    "annual": (D(2026, 1, 1), D(2027, 1, 1)),
    "undated": (None, None),
    "shifted": (D(2025, 3, 15), D(2026, 3, 15)),
    "single": (D(2026, 5, 1), D(2027, 5, 1)),
}
# (policy, bill type, premium, effective, expiration), in posting order, policies interleaved
POSTINGS = [
    ("annual", "term_policy", "1000.00", D(2026, 1, 1), D(2027, 1, 1)),
    ("undated", "installment", "10.00", None, None),
    ("annual", "endorsement", "100.00", D(2026, 6, 1), D(2027, 1, 1)),
    ("shifted", "installment", "40.00", D(2027, 4, 1), None),  # the policy's term shifted two years
    ("annual", "cancellation", "-300.00", D(2026, 9, 1), D(2027, 1, 1)),
    ("undated", "audit", "5.555", None, None),
    ("annual", "term_policy", "1200.00", D(2027, 1, 1), D(2028, 1, 1)),  # the renewal: a new term
    ("single", "endorsement", "75.00", D(2026, 7, 1), None),
    ("annual", "installment", "50.00", D(2027, 3, 1), None),
    ("shifted", "endorsement", "15.00", D(2027, 5, 1), None),
    ("annual", "term_policy", "900.00", D(2026, 1, 1), D(2027, 1, 1)),  # replaces the first term only
    ("undated", "term_policy", "70.00", None, None),  # replaces the undated term's totals
    ("annual", "audit", "25.00", D(2026, 12, 1), None),
    ("undated", "cancellation", "-20.00", None, None),
    ("shifted", "term_policy", "500.00", D(2025, 3, 15), D(2026, 3, 15)),  # an older term than the current
]


RATE = Decimal("0.10")


async def make_policies(svc: Any, tag: str) -> dict[str, str]:
    ids = {}
    async with svc.runtime.uow(actor="clerk") as tx:
        if await find_carrier(tx.session, "Batchco") is None:
            await register_carrier(tx, CarrierIn(name="Batchco"))
        for name, (start, end) in POLICIES.items():
            policy = await create_policy(tx, NewPolicy(carrier="Batchco", policy_number=f"{tag}-{name}",
                                                       client_name=f"Client {name}", effective_date=start,
                                                       expiration_date=end, estimated_premium=Decimal("1000.00"),
                                                       commission_rate="10%"))
            ids[name] = policy.id
    return ids


def commission(premium: str) -> Decimal:
    return (Decimal(premium) * RATE).quantize(Decimal("0.0001"))


def posted(policy_id: str, bill_type: str, premium: str, eff: date | None, exp: date | None) -> InvoicePosted:
    return InvoicePosted(invoice_id=str(uuid.uuid4()), reconciliation_id="r1", policy_id=policy_id,
                         bill_type=bill_type, effective_date=eff, expiration_date=exp, premium=Decimal(premium),
                         commission=commission(premium))


def posting(policy_id: str, bill_type: str, premium: str, eff: date | None, exp: date | None) -> Posting:
    return Posting(policy_id, bill_type, Decimal(premium), eff, exp, commission(premium))


TERM_FIELDS = ("effective_date", "expiration_date", "annualized_premium", "billed_premium",
               "estimated_agency_commission", "billed_agency_commission")


def as_tuple(t: Term) -> tuple:
    return t.start, t.end, t.annualized, t.billed, t.estimated_commission, t.billed_commission


async def state(svc: Any, ids: dict[str, str]) -> dict[str, Any]:
    p, t = Policy.__table__, PolicyTerm.__table__
    out = {}
    async with svc.runtime.db.session() as s:
        for name, pid in ids.items():
            row = (await s.execute(select(*(p.c[f] for f in TERM_FIELDS), p.c.version).where(p.c.id == pid))).one()
            terms = (await s.execute(select(*(t.c[f] for f in TERM_FIELDS)).where(t.c.policy_id == pid))).all()
            out[name] = (tuple(row), sorted((tuple(r) for r in terms), key=lambda r: (r[0] or date.min)))
    return out


async def test_batch_gives_the_same_policies_as_one_at_a_time(start_service) -> None:
    svc = await start_service("intake")
    one, batch = await make_policies(svc, "ONE"), await make_policies(svc, "BATCH")

    # one at a time: each posting its own transaction, as a consumer without batches would apply it
    for name, *rest in POSTINGS:
        async with svc.runtime.uow(actor="invoicing") as tx:
            await apply_invoice_postings(tx, [posting(one[name], *rest)])

    # the same sequence as one consumed batch, through the consumer's batch handler
    events = [make_envelope(posted(batch[name], *rest), producer="invoicing", actor="invoicing",
                            correlation_id="c1")
              for name, *rest in POSTINGS]
    async with svc.runtime.uow(actor="invoicing") as tx:
        await on_invoices_posted(tx, events)
    assert tx.emitted_count == len(POLICIES)  # one PolicyUpdated per policy, not per posting

    expected, got = await state(svc, one), await state(svc, batch)
    assert got == expected
    for name, (start, end) in POLICIES.items():  # and what the pure rule gives, folded in order
        terms: tuple[Term, ...] = (Term(start, end, estimated_commission=Decimal("100.00")),)
        for _, bill_type, premium, eff, exp in (x for x in POSTINGS if x[0] == name):
            terms = apply_posting(terms, bill_type, Decimal(premium), commission(premium), effective_date=eff,
                                  expiration_date=exp, estimated_premium=Decimal("1000.00"), rate=RATE)
        assert got[name][1] == sorted((as_tuple(t) for t in terms), key=lambda r: (r[0] or date.min))
        assert got[name][0][:6] == as_tuple(current_term(terms))
    # the rule itself, spelled out for the policy with a renewal: it shows the renewal, dates included
    (*current, version), terms = got["annual"]
    assert current == [D(2027, 1, 1), D(2028, 1, 1), Decimal("1250.00"), Decimal("1250.00"), Decimal("125.00"),
                       Decimal("125.00")]
    assert version == 1 + sum(1 for n, *_ in POSTINGS if n == "annual")
    assert terms == [
        (D(2026, 1, 1), D(2027, 1, 1), Decimal("925.00"), Decimal("925.00"), Decimal("92.50"), Decimal("92.50")),
        (D(2027, 1, 1), D(2028, 1, 1), Decimal("1250.00"), Decimal("1250.00"), Decimal("125.00"), Decimal("125.00"))]
    assert got["undated"][0][:6] == (None, None, Decimal("70.00"), Decimal("50.00"), Decimal("7.00"),
                                     Decimal("5.00"))
    # two years on: a term of its own, current; the old term's replacing posting stays in the old term
    assert got["shifted"][0][:4] == (D(2027, 3, 15), D(2028, 3, 15), Decimal("55.00"), Decimal("55.00"))
    assert [r[:3] for r in got["shifted"][1]] == [(D(2025, 3, 15), D(2026, 3, 15), Decimal("500.00")),
                                                  (D(2027, 3, 15), D(2028, 3, 15), Decimal("55.00"))]


async def test_a_batch_continues_where_earlier_postings_left_the_policy(start_service) -> None:
    svc = await start_service("intake")
    one, batch = await make_policies(svc, "ONE"), await make_policies(svc, "BATCH")
    for ids in (one, batch):  # earlier batches left term rows behind
        async with svc.runtime.uow(actor="invoicing") as tx:
            await apply_invoice_postings(tx, [posting(ids[n], *rest) for n, *rest in POSTINGS[:5]])
    for name, *rest in POSTINGS[5:]:
        async with svc.runtime.uow(actor="invoicing") as tx:
            await apply_invoice_postings(tx, [posting(one[name], *rest)])
    async with svc.runtime.uow(actor="invoicing") as tx:
        await apply_invoice_postings(tx, [posting(batch[n], *rest) for n, *rest in POSTINGS[5:]])
    assert await state(svc, batch) == await state(svc, one)


async def test_an_unknown_policy_fails_the_batch_permanently(start_service) -> None:
    svc = await start_service("intake")
    ids = await make_policies(svc, "X")
    events = [make_envelope(posted(pid, "audit", "10.00", D(2026, 2, 1), None), producer="invoicing",
                            actor="invoicing", correlation_id="c1") for pid in (ids["annual"], str(uuid.uuid4()))]
    with pytest.raises(PermanentError, match="no policy"):
        async with svc.runtime.uow(actor="invoicing") as tx:
            await on_invoices_posted(tx, events)
    # the whole batch rolled back; the consumer then applies the events one by one
    (*current, version), terms = (await state(svc, {"annual": ids["annual"]}))["annual"]
    first = (D(2026, 1, 1), D(2027, 1, 1), None, None, Decimal("100.00"), None)  # the term it was created with
    assert (tuple(current), version, terms) == (first, 1, [first])
