"""Postings from invoicing applied as a consumed batch give exactly what applying them one at a time,
in order, gives (seed 003 bill types: term policy replacing, cancellation, installment, audit,
endorsement; several postings per policy in one batch; renewals starting terms of their own), and
one PoliciesUpdated chunk for the policies changed. Both forms (InvoicePosted, InvoicesPosted chunks)
are applied in posting order; postings for an unknown policy are set aside as a replayable dead
letter of their own while the rest of the chunk is applied."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from agency_common.contracts.envelope import make_envelope
from agency_common.contracts.intake import PoliciesUpdated, PolicyUpdated
from agency_common.contracts.invoicing import InvoicePosted, InvoicesPosted, PostedInvoice
from agency_common.dead_letters import unseal
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
        await on_invoices_posted(svc.runtime)(tx, events)
    assert tx.emitted_count == 1  # one PoliciesUpdated chunk for the four policies, not one per posting
    assert [len(c.policy.policy_id) > 0 for c in (await outbox_payloads(svc, PoliciesUpdated))[-1].changes] == [
        True] * len(POLICIES)

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


async def outbox_payloads(svc: Any, payload_type: type) -> list[Any]:
    ob = svc.runtime.tables.outbox
    async with svc.runtime.db.session() as s:
        rows = (await s.execute(select(ob.c.payload).where(ob.c.event_type == payload_type.event_type)
                                .order_by(ob.c.id))).scalars()
        return [payload_type.model_validate(json.loads(r)["payload"]) for r in rows]


def chunk(rec: str, items: list[tuple]) -> InvoicesPosted:
    return InvoicesPosted(reconciliation_id=rec, invoices=[
        PostedInvoice(invoice_id=str(uuid.uuid4()), policy_id=pid, bill_type=bill_type, effective_date=eff,
                      expiration_date=exp, premium=Decimal(premium), commission=commission(premium))
        for pid, bill_type, premium, eff, exp in items])


def env(payload: Any, at: datetime | None = None) -> Any:
    extra = {"occurred_at": at} if at is not None else {}
    return make_envelope(payload, producer="invoicing", actor="invoicing", correlation_id="c1", **extra)


async def test_chunks_give_the_same_policies_as_one_at_a_time_in_posting_order(start_service) -> None:
    svc = await start_service("intake")
    one, bulk2 = await make_policies(svc, "ONE2"), await make_policies(svc, "BULK2")
    for name, *rest in POSTINGS:
        async with svc.runtime.uow(actor="invoicing") as tx:
            await apply_invoice_postings(tx, [posting(one[name], *rest)])
    # the same postings as two reconciliations' chunks in one run, the later one read first (another
    # partition): posting order decides
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    handler = on_invoices_posted(svc.runtime)
    events = [env(chunk("r1", [(bulk2[n], *rest) for n, *rest in POSTINGS[:6]]), t0),
              env(chunk("r1", [(bulk2[POSTINGS[6][0]], *POSTINGS[6][1:])]), t0 + timedelta(seconds=1)),
              env(chunk("r2", [(bulk2[n], *rest) for n, *rest in POSTINGS[7:]]), t0 + timedelta(seconds=2))]
    async with svc.runtime.uow(actor="invoicing") as tx:
        await handler(tx, [events[2], events[0], events[1]])
    assert await state(svc, bulk2) == await state(svc, one)


async def test_a_single_policy_changed_keeps_the_single_event(start_service) -> None:
    svc = await start_service("intake")
    ids = await make_policies(svc, "S")
    async with svc.runtime.uow(actor="invoicing") as tx:
        await on_invoices_posted(svc.runtime)(tx, [env(posted(ids["annual"], "audit", "10.00", D(2026, 2, 1), None))])
    assert tx.emitted_count == 1
    (last,) = (await outbox_payloads(svc, PolicyUpdated))[-1:]
    assert last.policy.policy_id == ids["annual"] and last.policy.version == 2


async def test_an_unknown_policy_is_set_aside_and_the_rest_of_the_chunk_applied(start_service) -> None:
    svc = await start_service("intake")
    ids = await make_policies(svc, "X")
    ghost = str(uuid.uuid4())
    original = env(chunk("r9", [(ids["annual"], "audit", "10.00", D(2026, 2, 1), None),
                                (ghost, "audit", "7.00", D(2026, 2, 1), None),
                                (ids["single"], "endorsement", "5.00", D(2026, 6, 1), None)]))
    async with svc.runtime.uow(actor="invoicing") as tx:
        await on_invoices_posted(svc.runtime)(tx, [original])
    got = await state(svc, {"annual": ids["annual"], "single": ids["single"]})
    assert got["annual"][0][3] == Decimal("10.00") and got["single"][0][3] == Decimal("5.00")  # billed
    dl = svc.runtime.tables.dead_letters
    async with svc.runtime.db.session() as s:
        (row,) = (await s.execute(select(dl).where(dl.c.error_type == "PolicyNotFound"))).mappings().all()
    assert ghost in row["error"] and row["replayed_at"] is None and row["event_id"] != str(original.event_id)
    copy = json.loads(unseal(bytes(row["payload"]), svc.runtime.pii))
    assert copy["causation_id"] == str(original.event_id)
    assert [i["policy_id"] for i in copy["payload"]["invoices"]] == [ghost]  # only what was not applied
