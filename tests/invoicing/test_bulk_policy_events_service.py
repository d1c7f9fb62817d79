"""Issue 17: invoicing's policy read model from intake's bulk events (a chunk of new policies, a chunk
of changes) beside the single ones, through the real broker: both forms applied, the newest version
wins whatever the form, a redelivered chunk applied once, and new policies join open reconciliations."""

from __future__ import annotations

from decimal import Decimal

from agency_common.contracts.intake import PoliciesCreated, PoliciesUpdated, PolicyChange, PolicyUpdated
from invoicing.models import PolicyView
from sqlalchemy import select

from tests.invoicing.helpers import entries, known_carrier, open_rec, policy, publish
from tests.support.inprocess import eventually


async def test_bulk_and_single_policy_events_build_one_read_model(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await known_carrier(svc)
    async with svc.as_user(token_for("clerk")) as c:
        rid = (await open_rec(c))["id"]  # open: new policies of its carrier join it
    snaps = [policy(n).policy for n in range(1, 7)]
    created = await publish(kafka, [
        PoliciesCreated(policies=snaps[:5]),
        policy(6),  # a single PolicyCreated beside the chunk
        PoliciesUpdated(changes=[
            PolicyChange(policy=snaps[0].model_copy(update={"version": 3, "client_name": "Third"}),
                         changed_fields=["client_name"]),
            PolicyChange(policy=snaps[1].model_copy(update={"version": 2, "estimated_premium": Decimal("2000.004")}),
                         changed_fields=["estimated_premium"])]),
        # older than the chunk's version 3: changes nothing
        PolicyUpdated(policy=snaps[0].model_copy(update={"version": 2, "client_name": "Second"}),
                      changed_fields=["client_name"]),
    ])
    await publish(kafka, [], envelopes=[created[0], created[2]])  # both chunks delivered again

    async def views() -> dict[str, PolicyView] | None:
        async with svc.runtime.db.session() as s:
            rows = {p.policy_id: p for p in (await s.execute(select(PolicyView))).scalars()}
        return rows if len(rows) == 6 and rows["p-1"].version == 3 and rows["p-2"].version == 2 else None
    seen = await eventually(views, message="six policies in the read model, the changes applied")

    consumed = svc.runtime.metrics.events_consumed
    await eventually(lambda: consumed.labels(PoliciesCreated.topic, "duplicate")._value.get() >= 2,
                     message="the redelivered chunks seen as duplicates")
    seen = await views()
    assert seen is not None
    assert seen["p-1"].client_name == "Third" and seen["p-2"].estimated_premium == Decimal("2000.00")
    assert {p.version for pid, p in seen.items() if pid not in ("p-1", "p-2")} == {1}
    async with svc.as_user(token_for("clerk")) as c:
        rows = await entries(c, rid)
    # every new policy joined the open reconciliation once, whichever form it came in
    assert sorted(r["policy_number"] for r in rows) == [f"POL-{n:04d}" for n in range(1, 7)]
