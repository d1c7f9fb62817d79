"""Team Screens frozen with their items (issue 16), through the running service and the real broker:
a snapshot's drill-down lists what its number counted after the data changed, with "moved since"
marks; "as of" snapshots; the user's time zone; retention of the items; permissions and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted, PolicyPeriod
from reporting.models import PolicyJob, TeamScreenItem
from reporting.team_screens import usecases
from sqlalchemy import func, select

from tests.reporting.conftest import envelope, publish
from tests.support.inprocess import eventually

CHI = ZoneInfo("America/Chicago")
CALC = datetime(2025, 7, 11, 10, 54, tzinfo=CHI)  # a Friday: the week started July 4 17:00


def job(job_id: str, version: int, create: datetime, close: datetime | None = None, user: str = "ann",
        model: bool = False) -> PolicyJobUpserted:
    return PolicyJobUpserted(job_id=job_id, version=version, job_type="submission", assigned_user=user,
                             assigned_group="uw", create_time=create, close_date=close,
                             periods=[PolicyPeriod(model_number=1)] if model else [])


FIRST = [
    job("J-1", 1, datetime(2025, 7, 7, 9, tzinfo=CHI)),
    job("J-2", 1, datetime(2025, 7, 8, 9, tzinfo=CHI)),
    job("J-3", 1, datetime(2025, 7, 9, 9, tzinfo=CHI), close=datetime(2025, 7, 10, 12, tzinfo=CHI), model=True),
    job("J-4", 1, datetime(2025, 7, 10, 15, tzinfo=CHI)),
]
CHANGES = [
    job("J-1", 2, datetime(2025, 7, 7, 9, tzinfo=CHI), user="bob"),  # reassigned
    job("J-2", 2, datetime(2025, 7, 8, 9, tzinfo=CHI), close=datetime(2025, 7, 11, 10, tzinfo=CHI)),  # closed
    job("J-5", 1, datetime(2025, 7, 11, 9, tzinfo=CHI)),  # new, not counted
]
ACTIVITY = ActivityUpserted(activity_id="A-1", version=1, subject="Call", assigned_user="ann", assigned_group="uw",
                            status="open")


async def _versions(svc: Any, expected: dict[str, int]) -> bool:
    async with svc.runtime.db.session() as s:
        rows = dict((await s.execute(select(PolicyJob.__table__.c.job_id, PolicyJob.__table__.c.version))).all())
    return rows == expected


async def _service_with_a_snapshot(start_service: Any, kafka: str, client_of: Any) -> tuple[Any, str]:
    svc = await start_service("reporting", create_app_kwargs={"clock": lambda: CALC}, team_screens_interval_seconds=0)
    await publish(kafka, [envelope(p) for p in [*FIRST, ACTIVITY]])
    await eventually(lambda: _versions(svc, {"J-1": 1, "J-2": 1, "J-3": 1, "J-4": 1}), message="first versions in")
    async with client_of(svc) as admin:
        r = await admin.post("/api/team-screens/calculate")
        assert r.status_code == 201, r.text
    return svc, r.json()["snapshot_id"]


async def test_the_drill_down_lists_what_the_number_counted_after_the_data_changed(start_service, token_for,
                                                                                  kafka) -> None:
    svc, snap = await _service_with_a_snapshot(start_service, kafka, lambda s: s.as_user(token_for("admin")))
    await publish(kafka, [envelope(p) for p in CHANGES])
    await eventually(lambda: _versions(svc, {"J-1": 2, "J-2": 2, "J-3": 1, "J-4": 1, "J-5": 1}),
                     message="changes in")
    items_url = f"/api/team-screens/{snap}/items"
    ann_open = {"category": "submissions", "status": "open", "user": "ann"}
    async with svc.as_user(token_for("admin")) as client:
        latest = (await client.get("/api/team-screens/latest", params={"user": "ann"})).json()
        assert latest["counts"]["submissions"] == {"open": 3, "new": 3, "bound": 1}
        assert latest["items_stored"] is True and latest["as_of"] is False

        body = (await client.get(items_url, params=ann_open)).json()
        assert body["frozen"] is True and body["total"] == 3 == latest["counts"]["submissions"]["open"]
        assert [(i["job_id"], i["moved"]) for i in body["items"]] == [("J-1", True), ("J-2", True), ("J-4", False)]
        assert body["moved"] == 2 and body["new_since"] == 1
        j1 = body["items"][0]
        assert j1["counted_user"] == "ann" and j1["assigned_user"] == "bob"  # counted for ann, bob's now

        # only what qualifies now and was not counted: J-5 (J-1 is bob's now, so new for bob's count)
        new = (await client.get(items_url, params=ann_open | {"show": "new"})).json()
        assert [i["job_id"] for i in new["items"]] == ["J-5"] and new["total"] == 1
        bob = (await client.get(items_url, params=ann_open | {"user": "bob"})).json()
        assert bob["total"] == 0 and bob["new_since"] == 1
        group = (await client.get(items_url, params={"category": "submissions", "status": "open", "group": "uw"})).json()
        assert [i["moved"] for i in group["items"]] == [False, True, False]  # J-1 still the group's
        everyone = (await client.get(items_url, params={"category": "submissions", "status": "bound"})).json()
        assert [(i["job_id"], i["moved"]) for i in everyone["items"]] == [("J-3", False)]

        # paginated on the server, with the total, sortable
        first = (await client.get(items_url, params=ann_open | {"limit": 2})).json()
        second = (await client.get(items_url, params=ann_open | {"limit": 2, "offset": 2})).json()
        assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
        assert [i["job_id"] for i in first["items"] + second["items"]] == ["J-1", "J-2", "J-4"]
        desc = (await client.get(items_url, params=ann_open | {"sort": "-id"})).json()
        assert [i["job_id"] for i in desc["items"]] == ["J-4", "J-2", "J-1"]
        by_moved = (await client.get(items_url, params=ann_open | {"sort": "moved"})).json()
        assert [i["job_id"] for i in by_moved["items"]] == ["J-4", "J-1", "J-2"]
        bad_sort = await client.get(items_url, params=ann_open | {"sort": "colour"})
        assert bad_sort.status_code == 422 and "sort by one of" in bad_sort.text
        bad_status = await client.get(items_url, params={"category": "submissions", "status": "renewed"})
        assert bad_status.status_code == 422 and "no status 'renewed' in category 'submissions'" in bad_status.text
        assert (await client.get(items_url, params=ann_open | {"offset": -1})).status_code == 422

        exported = await client.get(f"{items_url}.csv", params=ann_open)
        assert exported.status_code == 200 and exported.text.count("J-") == 3 and "moved" in exported.text

        page = await client.get("/team-screens/items", params={"snapshot": snap, **ann_open, "limit": 2})
        assert page.status_code == 200
        assert 'class="moved"' in page.text and "<strong>2</strong> counted item(s) no longer qualify" in page.text
        assert "3 items: 1–2" in page.text and "Next" in page.text and "Show those 1" in page.text
        assert ">Moved</a>" in page.text and "3 item(s)" in page.text  # a sortable header; the total

    # Retention: once a snapshot's items expire, its drill-down re-queries today's items.
    async with svc.runtime.db.transaction() as s:
        await usecases.prune(s, datetime(2000, 1, 1, tzinfo=CHI), datetime.now(CHI) + timedelta(days=1))
    async with svc.runtime.db.session() as s:
        left = await s.scalar(select(func.count()).select_from(TeamScreenItem.__table__))
    assert left == 0
    async with svc.as_user(token_for("admin")) as client:
        live = (await client.get(items_url, params=ann_open)).json()
        assert live["frozen"] is False and live["moved"] is None and live["items_stored"] is False
        assert [i["job_id"] for i in live["items"]] == ["J-4", "J-5"]


async def test_as_of_snapshots_time_zones_permissions_and_bad_input(start_service, token_for, kafka) -> None:
    svc, latest_id = await _service_with_a_snapshot(start_service, kafka, lambda s: s.as_user(token_for("admin")))
    await publish(kafka, [envelope(p) for p in CHANGES])
    await eventually(lambda: _versions(svc, {"J-1": 2, "J-2": 2, "J-3": 1, "J-4": 1, "J-5": 1}),
                     message="changes in")
    async with svc.as_user(token_for("admin")) as client:
        r = await client.post("/api/team-screens/calculate",
                              params={"as_of": "2025-07-09T12:00", "tz": "America/Chicago"})
        assert r.status_code == 201, r.text
        as_of = r.json()
        assert as_of["as_of"] is True and as_of["calculated_on"] == "2025-07-09T17:00:00+00:00"
        assert "Not reconstructed" in as_of["limits"]
        # the latest stays the batch's snapshot
        assert (await client.get("/api/team-screens/latest")).json()["snapshot_id"] == latest_id
        ann = (await client.get("/api/team-screens/latest", params={"user": "ann", "snapshot": as_of["snapshot_id"]}))
        ann_body = ann.json()
        # at July 9 12:00: J-2 open (closed later), J-3 open (closed July 10), J-4 and J-5 not yet created;
        # J-1 is counted for bob, its assignee today (who held it then is not in the read model)
        assert ann_body["counts"]["submissions"] == {"open": 2, "new": 2, "bound": 0}
        assert ann_body["as_of"] is True and ann_body["changed_after"] == 4
        bob = (await client.get("/api/team-screens/latest", params={"user": "bob", "snapshot": as_of["snapshot_id"]}))
        assert bob.json()["counts"]["submissions"]["open"] == 1
        items = (await client.get(f"/api/team-screens/{as_of['snapshot_id']}/items",
                                  params={"category": "submissions", "status": "open", "user": "ann"})).json()
        assert [(i["job_id"], i["moved"]) for i in items["items"]] == [("J-2", False), ("J-3", False)]
        with_offset = await client.post("/api/team-screens/calculate", params={"as_of": "2025-07-09T17:00:00Z"})
        assert with_offset.status_code == 201 and with_offset.json()["calculated_on"] == "2025-07-09T17:00:00+00:00"

        for params, words in [({"as_of": "yesterday"}, "is not a time"),
                              ({"as_of": "2030-01-01T00:00Z"}, "is in the future"),
                              ({"as_of": "2025-07-09T12:00", "tz": "Mars/Olympus"}, "unknown time zone")]:
            bad = await client.post("/api/team-screens/calculate", params=params)
            assert bad.status_code == 422 and words in bad.json()["detail"], (params, bad.text)

        # the user's time zone
        london = (await client.get("/api/team-screens/latest", params={"tz": "Europe/London"})).json()
        assert london["shown_in"] == "Europe/London"
        assert london["calculated_on_local"] == "2025-07-11T16:54:00+01:00"
        assert london["window_starts_local"]["submissions"] == "2025-07-04T23:00:00+01:00"
        bad_zone = await client.get("/api/team-screens/latest", params={"tz": "Nowhere"})
        assert bad_zone.status_code == 422 and "unknown time zone 'Nowhere'" in bad_zone.text
        page = await client.get("/team-screens", params={"tz": "America/New_York"})
        assert "Jul 11, 2025 11:54 AM EDT" in page.text and 'id="as-of-form"' in page.text
        assert page.cookies.get("team_screens_tz", "").strip('"') == "America/New_York"
        again = await client.get("/team-screens")  # the browser's choice is remembered (its cookie)
        assert "Jul 11, 2025 11:54 AM EDT" in again.text
        items_page = await client.get("/team-screens/items", params={"snapshot": latest_id, "category": "submissions",
                                                                     "status": "open"})
        assert "times in America/New_York" in items_page.text
        assert (await client.get("/team-screens", params={"tz": "Nowhere"})).text.count("unknown time zone") >= 1
        as_of_page = await client.get("/team-screens", params={"snapshot": as_of["snapshot_id"]})
        assert "Computed as of" in as_of_page.text and "Not reconstructed" in as_of_page.text

        # the form: a past time computes and shows that snapshot; a bad one is answered in words
        made = await client.post("/team-screens/calculate", data={"as_of": "2025-07-10T08:00", "tz": "America/Chicago"},
                                 follow_redirects=False)
        assert made.status_code == 303 and "snapshot=" in made.headers["location"]
        shown = await client.get(made.headers["location"])
        assert "Computed as of" in shown.text and "Jul 10, 2025 08:00 AM CDT" in shown.text
        refused = await client.post("/team-screens/calculate", data={"as_of": "2099-01-01T00:00"},
                                    follow_redirects=False)
        assert refused.status_code == 303
        assert "in the future" in (await client.get(refused.headers["location"])).text

    items_url = f"/api/team-screens/{latest_id}/items"
    params = {"category": "submissions", "status": "open"}
    async with svc.as_user(token_for("clerk")) as clerk:  # no reports:view, no team_screens:calculate
        assert (await clerk.get(items_url, params=params)).status_code == 403
        assert (await clerk.get(f"{items_url}.csv", params=params)).status_code == 403
        assert (await clerk.post("/api/team-screens/calculate", params={"as_of": "2025-07-09T12:00Z"})).status_code == 403
    async with svc.as_user(token_for("viewer")) as viewer:
        assert (await viewer.get(items_url, params=params)).status_code == 403


async def test_an_administrator_sets_the_windows_per_category(start_service, token_for) -> None:
    svc = await start_service("reporting", create_app_kwargs={"clock": lambda: CALC}, team_screens_interval_seconds=0)
    async with svc.as_user(token_for("admin")) as admin:
        before = (await admin.get("/api/team-screens/windows")).json()
        assert {w["category"]: w["window"] for w in before} == {
            "activities": "1d", "submissions": "this_week", "renewals": "this_month", "other_transactions": "this_week"}
        r = await admin.put("/api/team-screens/windows", json={"windows": {"submissions": "3d", "renewals": "this_week"}})
        assert r.status_code == 200, r.text
        shown = {w["category"]: w for w in r.json()}
        assert shown["submissions"]["window"] == "3d" and shown["submissions"]["configured"] == "this_week"
        assert shown["submissions"]["set_by"] == "admin"
        made = (await admin.post("/api/team-screens/calculate")).json()
        latest = (await admin.get("/api/team-screens/latest")).json()
        assert latest["snapshot_id"] == made["snapshot_id"]
        assert latest["window_starts"]["submissions"] == "2025-07-08T15:54:00+00:00"  # 3 × 24 h back
        assert latest["window_starts"]["renewals"] == "2025-07-04T22:00:00+00:00"  # Friday 17:00
        assert latest["windows"]["submissions"] == "3d"

        for body, words in [({"submissions": "fortnight"}, "unknown window 'fortnight'"),
                            ({"quotes": "1d"}, "unknown category 'quotes'")]:
            bad = await admin.put("/api/team-screens/windows", json={"windows": body})
            assert bad.status_code == 422 and words in bad.json()["detail"], bad.text
        # back to the setting
        reset = await admin.put("/api/team-screens/windows", json={"windows": {"submissions": "", "renewals": None}})
        assert {w["category"]: w["window"] for w in reset.json()}["submissions"] == "this_week"

        saved = await admin.post("/team-screens/windows", data={"activities": "2d"}, follow_redirects=False)
        assert saved.status_code == 303 and "Windows saved" in (await admin.get(saved.headers["location"])).text
        refused = await admin.post("/team-screens/windows", data={"activities": "soon"}, follow_redirects=False)
        page = (await admin.get(refused.headers["location"])).text
        assert "Windows not changed" in page and "unknown window" in page and 'value="2d"' in page
        # the audit trail names who changed them
        audit = (await admin.get("/api/audit", params={"action": "team_screens.windows_changed"})).json()["items"]
        assert [row["actor"] for row in audit] == ["admin"] * 3  # the two refused changes are not recorded
        assert audit[-1]["detail"] == {"before": {"submissions": None, "renewals": None},  # newest first
                                       "after": {"submissions": "3d", "renewals": "this_week"}}

    async with svc.as_user(token_for("clerk")) as clerk:  # no reports:view, not an administrator
        assert (await clerk.get("/api/team-screens/windows")).status_code == 403
        assert (await clerk.put("/api/team-screens/windows", json={"windows": {"activities": "1d"}})).status_code == 403
        assert (await clerk.post("/team-screens/windows", data={"activities": "1d"},
                                 follow_redirects=False)).status_code == 403
    async with svc.as_user(token_for("viewer")) as viewer:
        assert (await viewer.put("/api/team-screens/windows", json={"windows": {"activities": "1d"}})).status_code == 403
