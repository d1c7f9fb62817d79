"""The NIPR gateway adapter against the simulator: a crash between recording and NIPR's answer,
failures with bounded retries and an operator's retry, the simulator's per-state rules."""

from __future__ import annotations

from datetime import date

from agency_common.timeutil import utcnow
from appointments.gateway.models import Submission
from appointments.gateway.nipr import FormLine, RequestForm
from appointments.gateway.simulator import NiprSimulator
from sqlalchemy import func, insert, select

from tests.support.inprocess import eventually


def sub(key: str, status: str, state: str = "TX", kind: str = "appointment", code: str | None = None) -> dict:
    return {"idempotency_key": key, "transaction_id": f"t-{key}", "batch_id": "b-1", "state": state, "kind": kind,
            "npn": "1234567", "line_of_authority": "Life Agent", "cocode": "60054", "termination_reason_code": code,
            "status": status, "attempts": 1 if status == "submitting" else 0, "received_at": utcnow(),
            "next_attempt_at": utcnow()}


async def test_crash_after_recording_never_submits_twice(start_service, simulator, token_for) -> None:
    # NIPR already received key A before the gateway crashed; key B was recorded but never reached NIPR.
    form = RequestForm("f", "APPOINT", "TX", "60054", date.today(),
                       (FormLine("key-A", "t-key-A", "1234567", "Life Agent"),))
    before = await simulator.submit(form)
    gw = await start_service("gateway", create_app_kwargs={"client": simulator}, worker_poll_seconds=0.05,
                             submit_backoff_seconds=0.05)
    async with gw.runtime.db.transaction() as s:
        await s.execute(insert(Submission.__table__), [sub("key-A", "submitting"), sub("key-B", "submitting"),
                                                       sub("key-C", "pending")])

    async def answered() -> bool:
        async with gw.runtime.db.session() as s:
            return await s.scalar(select(func.count()).select_from(Submission).where(Submission.status == "answered")) == 3

    await eventually(answered, timeout=45, message="all three answered")
    assert simulator.submissions == {"key-A": 1, "key-B": 1, "key-C": 1}  # A looked up, not sent again
    async with gw.runtime.db.session() as s:
        a = await s.get(Submission, "key-A")
        out = gw.runtime.tables.outbox
        results = await s.scalar(select(func.count()).select_from(out).where(
            out.c.event_type == "nipr.transaction-result.received"))
    assert a.nipr_reference == before["key-A"].reference and results == 3


async def test_failures_back_off_then_wait_for_an_operator(start_service, simulator, token_for) -> None:
    gw = await start_service("gateway", create_app_kwargs={"client": simulator}, worker_poll_seconds=0.05,
                             submit_backoff_seconds=0.01, submit_max_attempts=3)
    simulator.fail_next(3)
    async with gw.runtime.db.transaction() as s:
        await s.execute(insert(Submission.__table__), [sub("key-F", "pending")])

    async def status() -> str:
        async with gw.runtime.db.session() as s:
            return (await s.get(Submission, "key-F")).status

    await eventually(lambda: _eq(status(), "failed"), timeout=45, message="gave up after 3 attempts")
    assert simulator.submissions == {}
    client = gw.as_user(token_for("licensing"))
    assert (await client.post("/api/submissions/retry-failed")).json() == {"retried": 1}
    await eventually(lambda: _eq(status(), "answered"), timeout=45, message="answered after the operator's retry")
    assert simulator.submissions == {"key-F": 1}
    page = await gw.as_user(token_for("admin")).get("/")
    assert page.status_code == 200 and "submitted twice" in page.text
    assert "&lt;GatewayRequest" in page.text and "&lt;NPN&gt;1234567&lt;/NPN&gt;" in page.text


async def _eq(coro, value) -> bool:
    return (await coro) == value


async def test_simulator_rules() -> None:
    sim = NiprSimulator(delay_seconds=0, failure_rate=0, today=date(2026, 11, 23))
    assert sim.producer("9123456") is None
    assert sim.producer("4455667") == sim.producer("4455667")  # deterministic PDB
    form = RequestForm("f", "TERMINATE", "TX", "60054", date.today(), (
        FormLine("k1", "t1", "1234567", "Life Agent", "CANCELLED_FOR_CAUSE"),
        FormLine("k2", "t2", "1234567", "Life Agent", "NOT_A_CODE"),
        FormLine("k3", "t3", "1234567", "Life Agent", "DEATH")))
    answers = await sim.submit(form)
    assert answers["k1"].outcome == "rejected"  # not accepted in TX
    assert answers["k2"].reason == "Termination reason NOT_A_CODE is not valid in TX"
    assert answers["k3"].outcome == "accepted" and answers["k3"].reference.startswith("GT-")
    appoint = await sim.submit(RequestForm("g", "APPOINT", "FL", "60054", date.today(), (
        FormLine("k4", "t4", "1234567", "Life"), FormLine("k5", "t5", "9000001", "Life"))))
    assert appoint["k4"].reason == "No active license in FL" and appoint["k5"].reason == "NPN not found in the PDB"
    assert await sim.lookup(["k4", "zz"]) == {"k4": appoint["k4"]}


async def test_real_client_speaks_xml_and_maps_outages() -> None:
    import httpx
    from appointments.gateway.nipr import NiprUnavailable, RealNipr

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content.decode())
        if request.url.path == "/gateway/transactions":
            return httpx.Response(200, text="<Results><Result key='k1'><Status>ACCEPTED</Status><Reference>GT-1</Reference>"
                                            "</Result><Result key='k2'><Status>REJECTED</Status><Reason>No license</Reason>"
                                            "</Result></Results>")
        if request.url.path == "/pdb-xml-reports/entityinfo_xml.cgi":
            assert request.method == "GET" and request.url.params["id_entity"] == "0012345"  # leading zeros kept
            assert (request.url.params["customer_number"], request.url.params["report_type"]) == ("u", "1")
            return httpx.Response(200, text=(
                "<PDB><TRANSACTION_TYPE><TYPE>INDIVIDUAL</TYPE></TRANSACTION_TYPE>"
                "<PRODUCER><INDIVIDUAL><ENTITY_BIOGRAPHIC><BIOGRAPHIC><NAME_FIRST>Dana</NAME_FIRST>"
                "<NAME_LAST>Whitfield</NAME_LAST></BIOGRAPHIC></ENTITY_BIOGRAPHIC><PRODUCER_LICENSING><LICENSE_INFORMATION>"
                "<STATE name='TX'><LICENSE><LICENSE_NUM>2345678</LICENSE_NUM><DATE_EXPIRE_LICENSE>12/31/2030</DATE_EXPIRE_LICENSE>"
                "<LICENSE_CLASS>General Lines Agent</LICENSE_CLASS><RESIDENCY_STATUS>Resident</RESIDENCY_STATUS><ACTIVE>Yes</ACTIVE>"
                "<DETAILS><DETAIL><LOA>Life Agent</LOA><STATUS>Active</STATUS></DETAIL><DETAIL><LOA>Old</LOA>"
                "<STATUS>Inactive</STATUS></DETAIL></DETAILS></LICENSE></STATE></LICENSE_INFORMATION></PRODUCER_LICENSING>"
                "</INDIVIDUAL></PRODUCER></PDB>"))
        return httpx.Response(503)

    client = RealNipr("https://nipr.test", "u", "p", transport=httpx.MockTransport(handler))
    terminate = RequestForm("b:TX:2", "TERMINATE", "TX", "60054", date(2026, 11, 23), (
        FormLine("k3", "t3", "1234567", "Life Agent", "CANCELLED_FOR_CAUSE", for_cause=True),))
    assert "<TerminationReason>CANCELLED_FOR_CAUSE</TerminationReason><ForCause>Y</ForCause>" in terminate.to_xml()
    form = RequestForm("b:TX:1", "APPOINT", "TX", "60054", date(2026, 11, 23), (
        FormLine("k1", "t1", "1234567", "Life Agent"), FormLine("k2", "t2", "7654321", "Life Agent")))
    assert "ForCause" not in form.to_xml()
    answers = await client.submit(form)
    assert (answers["k1"].outcome, answers["k1"].reference) == ("accepted", "GT-1")
    assert (answers["k2"].outcome, answers["k2"].reason) == ("rejected", "No license")
    assert "<CompanyCoCode>60054</CompanyCoCode>" in seen[0] and "<EffectiveDate>11/23/2026</EffectiveDate>" in seen[0]
    producer = await client.fetch_producer("0012345")
    lic = producer.licenses[0]
    assert (producer.first_name, lic.state, lic.resident, lic.active, lic.lines_of_authority) == \
        ("Dana", "TX", True, True, ["Life Agent"])
    try:
        await client.lookup(["k1"])
        raise AssertionError("503 must be NiprUnavailable")
    except NiprUnavailable:
        pass


async def test_two_gateway_instances_claim_each_transaction_once(start_service, simulator) -> None:
    """Two gateway workers (own engines, as two processes would have) on one database: every
    submission is claimed by exactly one of them and NIPR hears of each key once."""
    import asyncio
    from types import SimpleNamespace

    from agency_common.db.engine import Database
    from agency_common.outbox.unit_of_work import UnitOfWork
    from appointments.gateway.models import messaging
    from appointments.gateway.worker import SubmissionWorker

    gw = await start_service("gateway", create_app_kwargs={"client": simulator}, worker_poll_seconds=300,
                             submit_backoff_seconds=0.05)
    db2 = Database(gw.settings.database_url)
    try:
        other = SimpleNamespace(db=db2, settings=gw.settings, uow=UnitOfWork(db2, messaging, producer="gateway"))
        one, two = SubmissionWorker(gw.runtime, simulator, "gw-1"), SubmissionWorker(other, simulator, "gw-2")
        rows = [sub(f"k-{st}-{i}", "pending", state=st) | {"batch_id": f"b-{i % 3}"}
                for st in ("TX", "CA", "FL") for i in range(8)]
        async with gw.runtime.db.transaction() as s:
            await s.execute(insert(Submission.__table__), rows)

        # the claim itself, raced: disjoint, and together everything that was due
        a, b = await asyncio.gather(one.claim(limit=10), two.claim(limit=10))
        ka, kb = {r.idempotency_key for r in a}, {r.idempotency_key for r in b}
        assert ka and kb and not ka & kb and len(ka | kb) == 20
        # a claimed row is leased: neither instance takes it again while the lease runs
        rest = await asyncio.gather(one.claim(), two.claim())
        assert {r.idempotency_key for r in rest[0] + rest[1]} == {r["idempotency_key"] for r in rows} - ka - kb
        for group, worker in ((a, one), (b, two), (rest[0], one), (rest[1], two)):
            for st in {r.state for r in group}:
                await worker.process_form([r for r in group if r.state == st])

        # and running side by side, on new work, until everything is answered
        more = [sub(f"m-{i}", "pending", state=("TX", "CA", "FL")[i % 3]) | {"batch_id": f"c-{i % 4}"}
                for i in range(30)]
        async with gw.runtime.db.transaction() as s:
            await s.execute(insert(Submission.__table__), more)

        async def both_rounds() -> bool:
            await asyncio.gather(one.run_once(limit=4), two.run_once(limit=4))
            async with gw.runtime.db.session() as s:
                return await s.scalar(select(func.count()).select_from(Submission).where(
                    Submission.status != "answered")) == 0
        await eventually(both_rounds, timeout=60, interval=0, message="everything answered")
        assert simulator.double_submissions == []
        assert set(simulator.submissions) == {r["idempotency_key"] for r in rows + more}
        assert set(simulator.submissions.values()) == {1}
        async with gw.runtime.db.session() as s:
            by = dict((await s.execute(select(Submission.claimed_by, func.count()).where(
                Submission.idempotency_key.like("m-%")).group_by(Submission.claimed_by))).all())
            out = gw.runtime.tables.outbox
            results = await s.scalar(select(func.count()).select_from(out).where(
                out.c.event_type == "nipr.transaction-result.received"))
        assert set(by) == {"gw-1", "gw-2"}  # both instances did part of the work
        assert results == len(rows) + len(more)  # one answer published per transaction
    finally:
        await db2.dispose()
