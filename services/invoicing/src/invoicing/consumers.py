"""invoicing's subscriptions: one line per event type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agency_common.contracts.envelope import Envelope
from agency_common.contracts.intake import (
    CarrierRegistered,
    CarrierUpdated,
    PoliciesCreated,
    PoliciesUpdated,
    PolicyCreated,
    PolicySnapshot,
    PolicyUpdated,
    StatementLinesPublished,
    StatementPublished,
)
from agency_common.messaging.consumer import EventConsumer
from agency_common.money import round_money
from agency_common.outbox import Transaction
from sqlalchemy import bindparam, insert, select, update

from invoicing.domain.commission import rate_fraction
from invoicing.models import PolicyView
from invoicing.policy_view.carriers import on_carrier_events
from invoicing.reconciliations import usecases as rec_uc
from invoicing.statement_entry import from_statements

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime

PV = PolicyView.__table__  # type: ignore[attr-defined]

READ_MODEL_FIELDS = [c for c in PolicyView.model_fields if c != "policy_id"]
MONEY_FIELDS = ("estimated_premium", "annualized_premium", "billed_premium", "estimated_agency_commission",
                "billed_agency_commission")

def _read_model_values(snapshot: PolicySnapshot) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(snapshot, f) for f in READ_MODEL_FIELDS}
    for name in MONEY_FIELDS:
        if values[name] is not None:
            values[name] = round_money(values[name])
    values["commission_rate"] = rate_fraction(values["commission_rate"])
    return values


async def apply_policy_snapshots(tx: Transaction, snapshots: list[PolicySnapshot]) -> int:
    """A consumed batch of snapshots at once (intake's Create Policies sends 100,000 in a row): the
    newest version per policy, one SELECT of the known versions, one executemany INSERT of the new
    policies and one of the UPDATEs; an older version never overwrites a newer one. Returns how
    many policies changed."""
    latest: dict[str, PolicySnapshot] = {}
    for snap in snapshots:
        seen = latest.get(snap.policy_id)
        if seen is None or snap.version > seen.version:
            latest[snap.policy_id] = snap
    ids = list(latest)
    known: dict[str, int] = {}
    for i in range(0, len(ids), 1000):
        known.update((await tx.session.execute(select(PV.c.policy_id, PV.c.version).where(
            PV.c.policy_id.in_(ids[i:i + 1000])))).all())
    new = [{"policy_id": pid, **_read_model_values(s)} for pid, s in latest.items() if pid not in known]
    newer = [{"b_id": pid, **{f"b_{k}": v for k, v in _read_model_values(s).items()}}
             for pid, s in latest.items() if pid in known and s.version > known[pid]]
    if new:
        await tx.session.execute(insert(PV), new)
    if newer:
        await tx.session.execute(
            update(PV).where(PV.c.policy_id == bindparam("b_id"), PV.c.version < bindparam("b_version"))
            .values({f: bindparam(f"b_{f}", type_=PV.c[f].type) for f in READ_MODEL_FIELDS}),
            newer, execution_options={"synchronize_session": False})
    if new:
        await rec_uc.on_policies_known(tx, [(p["carrier"], p["policy_id"]) for p in new])
    return len(new) + len(newer)


async def on_policy_events(tx: Transaction, events: list[Envelope[Any]]) -> None:
    await apply_policy_snapshots(tx, [e.payload.policy for e in events])


async def on_policies_created(tx: Transaction, events: list[Envelope[Any]]) -> None:
    """Bulk chunks (issue 17): every snapshot of every chunk of the run, applied as the single ones are."""
    await apply_policy_snapshots(tx, [p for e in events for p in e.payload.policies])


async def on_policies_updated(tx: Transaction, events: list[Envelope[Any]]) -> None:
    await apply_policy_snapshots(tx, [c.policy for e in events for c in e.payload.changes])


def subscribe(consumer: EventConsumer, runtime: ServiceRuntime) -> None:
    business_timezone = runtime.settings.business_timezone

    async def on_statement_published(tx: Transaction, event: Envelope[Any]) -> None:
        await from_statements.on_statement_published(tx, event.payload, rec_uc.business_today(business_timezone))

    async def on_statement_lines(tx: Transaction, event: Envelope[Any]) -> None:
        await from_statements.on_statement_lines(tx, event.payload, rec_uc.business_today(business_timezone))

    consumer.on_batch(CarrierRegistered, on_carrier_events)
    consumer.on_batch(CarrierUpdated, on_carrier_events)
    consumer.on_batch(PolicyCreated, on_policy_events)
    consumer.on_batch(PolicyUpdated, on_policy_events)
    consumer.on_batch(PoliciesCreated, on_policies_created)
    consumer.on_batch(PoliciesUpdated, on_policies_updated)
    consumer.on(StatementPublished, on_statement_published)
    consumer.on(StatementLinesPublished, on_statement_lines)
