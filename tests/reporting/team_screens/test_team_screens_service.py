"""Team Screens through the running service: upstream events over the real broker (out of order,
twice), the batch process on demand, the latest counts, the items behind them, one runner at a time."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted, PolicyPeriod
from reporting.models import Activity, PolicyJob
from reporting.team_screens import lock, queries, usecases
from sqlalchemy import select

from tests.reporting.conftest import envelope, publish
from tests.reporting.team_screens.test_team_screens_sql_db import SEED_ACTIVITIES, SEED_JOBS
from tests.support.inprocess import eventually

CHI = ZoneInfo("America/Chicago")
from datetime import datetime

CALC = datetime(2025, 7, 11, 10, 54, tzinfo=CHI)


def job(version: int, **kw) -> PolicyJobUpserted:
    base = {"job_id": "J-1", "job_type": "submission", "assigned_user": "ann", "assigned_group": "uw",
            "create_time": datetime(2025, 7, 7, 9, tzinfo=CHI)}
    return PolicyJobUpserted(version=version, **(base | kw))


async def test_upserts_by_id_keep_the_newest_version_and_counts_follow(start_service, token_for, kafka) -> None:
    svc = await start_service("reporting", create_app_kwargs={"clock": lambda: CALC},
                              team_screens_interval_seconds=0)
    v1 = envelope(job(1))
    v2 = envelope(job(2, close_date=datetime(2025, 7, 9, tzinfo=CHI), periods=[PolicyPeriod(model_number=3)]))
    v3_other_user = envelope(job(3, assigned_user="bob", close_date=datetime(2025, 7, 9, tzinfo=CHI),
                                 periods=[PolicyPeriod(model_number=3)]))
    a_new = envelope(ActivityUpserted(activity_id="A-1", version=5, subject="Call insured", assigned_user="ann",
                                      assigned_group="uw", status="completed",
                                      close_date=datetime(2025, 7, 11, 8, tzinfo=CHI)))
    a_old = envelope(ActivityUpserted(activity_id="A-1", version=4, subject="Call insured", assigned_user="ann",
                                      assigned_group="uw", status="open",
                                      target_date=datetime(2025, 7, 1, tzinfo=CHI)))
    # Newest first, then the older ones, and the newest activity twice (a redelivery).
    await publish(kafka, [v2, v1, a_new, a_old, a_new])

    async def ingested() -> bool:
        async with svc.runtime.db.session() as s:
            j = (await s.execute(select(PolicyJob.__table__))).mappings().all()
            a = (await s.execute(select(Activity.__table__))).mappings().all()
        return len(j) == 1 and len(a) == 1 and j[0]["version"] == 2 and a[0]["version"] == 5 and j[0]

    row = await eventually(ingested, message="jobs and activities ingested")
    assert row["has_model_number"] is True and row["close_date"] is not None
    async with svc.as_user(token_for("admin")) as client:
        async def events_counted() -> list:
            rows = (await client.get("/api/operations/events")).json()
            return rows if sum(r["count"] for r in rows if r["topic"].startswith("upstream.")) == 4 else []
        counted = await eventually(events_counted, message="each distinct event counted once")
        assert {r["event_type"]: r["count"] for r in counted} == {
            "upstream.activity.upserted": 2, "upstream.policy-job.upserted": 2}

        assert (await client.get("/api/team-screens/latest")).status_code == 404
        r = await client.post("/api/team-screens/calculate")
        assert r.status_code == 201, r.text
        first = r.json()
        assert datetime.fromisoformat(first["calculated_on"]) == CALC

        latest = (await client.get("/api/team-screens/latest", params={"user": "ann"})).json()
        assert latest["snapshot_id"] == first["snapshot_id"]
        assert latest["calculated_on"] == first["calculated_on"]
        assert latest["counts"]["submissions"] == {"open": 0, "new": 0, "bound": 1}
        assert latest["counts"]["activities"] == {"open": 0, "overdue": 0, "completed": 1}
        assert latest["counts"]["renewals"] == {"open": 0, "new": 0, "renewed": 0, "non_renewed": 0, "not_taken": 0}
        group = (await client.get("/api/team-screens/latest", params={"group": "uw"})).json()
        assert group["counts"]["submissions"]["bound"] == 1
        items = (await client.get(latest["items"]["submissions"]["bound"])).json()
        assert [i["job_id"] for i in items["items"]] == ["J-1"]
        assert items["items"][0]["periods"] == [{"model_number": 3, "locked": False, "status": None}]
        assert (await client.get("/api/team-screens/latest", params={"user": "a", "group": "b"})).status_code == 422

        # A newer version moves the job to bob; an older one arriving later changes nothing.
        await publish(kafka, [v3_other_user, v1])
        async def moved() -> bool:
            async with svc.runtime.db.session() as s:
                return (await s.execute(select(PolicyJob.__table__.c.version))).scalar_one() == 3
        await eventually(moved, message="version 3 applied")
        second = (await client.post("/api/team-screens/calculate")).json()
        assert second["snapshot_id"] != first["snapshot_id"]
        ann = (await client.get("/api/team-screens/latest", params={"user": "ann"})).json()
        bob = (await client.get("/api/team-screens/latest", params={"user": "bob"})).json()
        assert ann["counts"]["submissions"]["bound"] == 0 and bob["counts"]["submissions"]["bound"] == 1

        page = await client.get("/team-screens")
        assert page.status_code == 200 and "Calculated on" in page.text and "Jul 11, 2025 10:54 AM CDT" in page.text
        assert "/team-screens/items?snapshot=" in page.text
        items_page = await client.get(f"/team-screens/items?snapshot={second['snapshot_id']}"
                                      "&category=submissions&status=bound&user=bob")
        assert items_page.status_code == 200 and "J-1" in items_page.text
        # read as a person reads it: labelled columns, local times, one line per policy period
        assert "<th>Has model number</th>" in items_page.text and "has_model_number" not in items_page.text
        assert "model 3, unlocked" in items_page.text and "{'model_number'" not in items_page.text
        assert "Jul 09, 2025" in items_page.text and "T00:00:00" not in items_page.text
        exported = await client.get(f"/api/team-screens/{second['snapshot_id']}/items.csv",
                                    params={"category": "submissions", "status": "bound", "user": "bob"})
        assert exported.status_code == 200 and "J-1" in exported.text

    async with svc.as_user(token_for("clerk")) as clerk:  # no team_screens:calculate, no reports:view
        assert (await clerk.post("/api/team-screens/calculate")).status_code == 403
        assert (await clerk.get("/api/team-screens/latest")).status_code == 403
    async with svc.as_user(token_for("viewer")) as viewer:
        assert (await viewer.post("/api/team-screens/calculate")).status_code == 403

    # Each snapshot emitted TeamScreensCalculated through the outbox.
    outbox = svc.runtime.tables.outbox
    async with svc.runtime.db.session() as s:
        types = (await s.execute(select(outbox.c.event_type, outbox.c.key))).all()
    assert sorted(types) == sorted([("reporting.team-screens.calculated", first["snapshot_id"]),
                                    ("reporting.team-screens.calculated", second["snapshot_id"])])


async def test_one_runner_at_a_time(start_service, token_for) -> None:
    one = await start_service("reporting", team_screens_interval_seconds=0)
    db = one.runtime.db
    # Concurrent takers of the lock: exactly one wins.
    wins = await asyncio.gather(*[lock.try_lock(db, f"taker-{i}", timedelta(minutes=5)) for i in range(6)])
    assert wins.count(True) == 1
    holder = f"taker-{wins.index(True)}"
    async with one.as_user(token_for("admin")) as client:
        busy = await client.post("/api/team-screens/calculate")
        assert busy.status_code == 409 and "already running" in busy.json()["detail"]
        await lock.release_lock(db, holder)
        assert (await client.post("/api/team-screens/calculate")).status_code == 201
    # A holder that died keeps the lock only until its lease ends.
    assert await lock.try_lock(db, "crashed", timedelta(seconds=-1))
    assert await lock.try_lock(db, "next", timedelta(minutes=5))
    assert not await lock.try_lock(db, "third", timedelta(minutes=5))
    await lock.release_lock(db, "next")

    # The scheduled runs of several instances produce one snapshot per interval.
    settings = one.runtime.settings.model_copy(update={"team_screens_interval_seconds": 3600})
    runs = await asyncio.gather(*[
        usecases.calculate(db, one.runtime.uow, settings, triggered_by="schedule",
                              skip_if_newer_than=timedelta(seconds=1800)) for _ in range(3)],
        return_exceptions=True)
    assert all(r is None or isinstance(r, usecases.CalculationBusy) for r in runs), runs
    async with db.session() as s:
        assert len((await s.execute(select(queries.S.c.id))).all()) == 1


async def test_the_schedule_runs_the_batch_process_and_the_page_runs_it_on_demand(start_service, token_for) -> None:
    svc = await start_service("reporting", team_screens_interval_seconds=0.5)

    async def scheduled() -> list:
        async with svc.runtime.db.session() as s:
            rows = (await s.execute(select(queries.S.c.triggered_by))).scalars().all()
        return rows if len(rows) >= 2 else []

    assert set(await eventually(scheduled, timeout=15, message="two scheduled runs")) == {"schedule"}
    async with svc.as_user(token_for("admin")) as admin:
        r = await admin.post("/team-screens/calculate", follow_redirects=False)
        assert r.status_code == 303
        assert (await admin.get("/api/team-screens/latest")).json()["triggered_by"] in {"admin", "schedule"}
    async with svc.as_user(token_for("clerk")) as clerk:
        assert (await clerk.post("/team-screens/calculate", follow_redirects=False)).status_code == 403


async def test_seed_worked_examples_through_the_broker(start_service, token_for, kafka) -> None:

    svc = await start_service("reporting", create_app_kwargs={"clock": lambda: CALC}, team_screens_interval_seconds=0)
    await publish(kafka, [envelope(p) for p in [*SEED_ACTIVITIES, *SEED_JOBS]])
    async with svc.as_user(token_for("admin")) as client:
        async def all_in() -> bool:
            rows = (await client.get("/api/operations/events")).json()
            return sum(r["count"] for r in rows) == len(SEED_ACTIVITIES) + len(SEED_JOBS)
        await eventually(all_in, message="seed items ingested")
        assert (await client.post("/api/team-screens/calculate")).status_code == 201
        ann = (await client.get("/api/team-screens/latest", params={"user": "ann"})).json()
        bob = (await client.get("/api/team-screens/latest", params={"user": "bob"})).json()
    assert ann["window_starts"]["activities"] == "2025-07-10T15:54:00+00:00"  # July 10 10:54 CDT
    assert ann["window_starts"]["submissions"] == "2025-07-04T22:00:00+00:00"  # Friday July 4 5:00 p.m.
    assert ann["window_starts"]["renewals"] == "2025-07-01T05:00:00+00:00"  # July 1 12:00 a.m.
    assert ann["counts"]["activities"] == {"open": 4, "overdue": 2, "completed": 2}
    assert ann["counts"]["submissions"] == {"open": 3, "new": 2, "bound": 1}
    assert bob["counts"]["renewals"] == {"open": 2, "new": 1, "renewed": 2, "non_renewed": 2, "not_taken": 1}
    assert bob["counts"]["other_transactions"] == {"open": 2, "new": 1, "approved": 2}


async def test_a_broken_upstream_event_is_dead_lettered_alone(start_service, token_for, kafka) -> None:
    import json

    from agency_common.contracts import topics

    svc = await start_service("reporting", team_screens_interval_seconds=0)
    good = envelope(job(1, job_id="J-ok"))
    broken = json.loads(envelope(job(1, job_id="J-bad")).to_bytes())
    broken["payload"]["job_type"] = "quote"  # not a job type of the contract
    await publish(kafka, [good], raw=[(topics.UPSTREAM_POLICY_JOBS, json.dumps(broken).encode())])
    async with svc.as_user(token_for("admin")) as client:
        async def dead_lettered() -> bool:
            dead = (await client.get("/api/operations/dead-letters")).json()
            return dead == [{"topic": topics.UPSTREAM_POLICY_JOBS, "count": 1}]
        await eventually(dead_lettered, message="the broken event counted on its topic's DLT")
    async with svc.runtime.db.session() as s:
        assert (await s.execute(select(PolicyJob.__table__.c.job_id))).scalars().all() == ["J-ok"]
