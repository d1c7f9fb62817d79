"""The demo dataset: what ``make run`` loads on its first start so that every dashboard shows work.

Everything goes through the services' own public APIs (and, for the upstream systems, through Kafka
with the platform's envelope), never into their databases:

- intake: a carrier mapping profile, a book of policies (their clients become individuals), a few
  individuals from the CRM with their details, a messy carrier statement (invalid and blank rows,
  unmatched lines) with a Create-Policies session for its unmatched lines, which hands the statement
  over to invoicing (a reconciliation opens there), a second statement left with unmatched lines to
  try Create Policies on, and a saved search;
- appointments: an extra company with its state settings (the dev reference data is loaded by the
  service itself), producers onboarded from a CSV (some rows with errors), a bulk appointment;
- reporting: upstream policy jobs and activities published on their topics, then a Team Screens
  calculation.

``python -m agency_platform.demo`` loads it into a running platform (``--intake URL`` ... see ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

DEMO_CARRIER = "Acme Mutual"
SECOND_CARRIER = "Harbor P&C"
# The carrier registry: carriers are registered explicitly before statements or policies name them.
DEMO_CARRIERS: list[dict[str, Any]] = [
    {"name": DEMO_CARRIER, "naic_code": "12345", "aliases": ["Acme Mutual Insurance Co", "AMIC"],
     "subordinates": ["Acme Casualty"],
     "addresses": ["100 Insurance Way\nHartford, CT 06103", "PO Box 4400\nHartford, CT 06101"]},
    {"name": SECOND_CARRIER, "naic_code": "23456", "aliases": ["Harbor Property & Casualty"],
     "addresses": ["1 Harbor Plaza\nBoston, MA 02110"]},
]

# (policy number, client, line of business, effective date, premium)
BOOK: list[tuple[str, str, str, str, str]] = [
    ("AM-1001", "Jane Roe", "Personal Auto", "2026-01-15", "1234.56"),
    ("AM-1002", "John Smith", "Homeowners", "2026-02-01", "980.00"),
    ("AM-1003", "Maria Garcia", "Personal Auto", "2026-03-01", "1410.00"),
    ("AM-1004", "Wei Chen", "Umbrella", "2026-03-15", "350.00"),
    ("AM-1005", "Fatima Khan", "Homeowners", "2026-04-01", "1120.00"),
    ("AM-1006", "Liam O'Brien", "Personal Auto", "2026-04-20", "860.00"),
    ("AM-1007", "Olivia Brown", "Dwelling Fire", "2026-05-01", "640.00"),
    ("AM-1008", "Noah Wilson", "Personal Auto", "2026-06-01", "1500.00"),
    ("AM-1009", "Emma Davis", "Homeowners", "2026-06-15", "1325.00"),
    ("AM-1010", "Lucas Martin", "Commercial Auto", "2026-07-01", "4200.00"),
    ("AM-1011", "Ava Thompson", "Personal Auto", "2026-08-01", "990.00"),
    ("AM-1012", "Mia Johnson", "Homeowners", "2026-09-01", "1075.00"),
]

# Details the CRM knows about some of the book's clients (matched by name) and a few prospects.
CRM_DETAILS: dict[str, dict[str, Any]] = {
    "Jane Roe": {"state": "TX", "city": "Austin", "zip_code": "78701", "primary_email": "jane.roe@example.com",
                 "servicing_agent": "Dana Whitfield", "lead_source": "Referral", "gender": "F"},
    "John Smith": {"state": "TX", "city": "Dallas", "zip_code": "75201", "servicing_agent": "Dana Whitfield",
                   "lead_source": "Web"},
    "Maria Garcia": {"state": "CA", "city": "San Diego", "zip_code": "92101", "servicing_agent": "Riley Garcia",
                     "lead_source": "Referral", "gender": "F"},
    "Noah Wilson": {"state": "FL", "city": "Tampa", "zip_code": "33602", "servicing_agent": "Avery Nguyen",
                    "lead_source": "Event"},
}
PROSPECTS: list[dict[str, Any]] = [
    {"first_name": "Grace", "last_name": "Lee", "state": "GA", "city": "Atlanta", "record_status": "prospect",
     "lead_source": "Web", "dob": "1958-04-02", "ssn": "123-45-6789", "medicare_id": "1EG4-TE5-MK73"},
    {"first_name": "Henry", "last_name": "Walker", "state": "TX", "city": "Houston", "record_status": "prospect",
     "lead_source": "Event", "smoker_status": "non-smoker"},
]

def _csv(rows: list[str]) -> str:
    return "".join(f"{row}\r\n" for row in rows)


STATEMENT_HEADER = ["Policy #", "Named Insured", "Trans Type", "Eff Date", "Exp Date", "LOB", "Premium", "Comm %",
                    "Comm Amt"]


def statement_csv() -> str:
    """A carrier statement as carriers send them: title lines above the header, money as ``$1,234.56``
    and ``(100.00)``, rates as ``15%`` and ``0.15``; nine lines of the book, three policies the book
    does not have yet, two invalid rows and one blank row."""
    rows = [
        "Acme Mutual commission statement",
        "Period: 2026-10",
        "",
        ",".join(STATEMENT_HEADER),
        'AM-1001,Jane Roe,NBS,01/15/2026,01/15/2027,Personal Auto,"$1,234.56",15%,185.18',
        "am 1002,John Smith,PCH,2026-02-01,2027-02-01,Homeowners,(100.00),0.15,(15.00)",
        "AM-1003,Maria Garcia,END,03/01/2026,03/01/2027,Personal Auto,210.00,12%,25.20",
        "AM-1004,Wei Chen,NBS,03/15/2026,03/15/2027,Umbrella,350.00,10%,35.00",
        ",,,,,,,,",
        "AM-1005,Fatima Khan,INS,04/01/2026,04/01/2027,Homeowners,280.00,15%,42.00",
        "AM-1006,Liam O'Brien,NBS,04/20/2026,04/20/2027,Personal Auto,860.00,15%,129.00",
        "AM-1008,Noah Wilson,AUD,06/01/2026,06/01/2027,Personal Auto,75.00,15%,11.25",
        'BAD-1,"=HYPERLINK(""http://x"")",ZZZ,31/31/2026,,Personal Auto,abc,15%,',
        "AM-1009,Emma Davis,NBS,06/15/2026,06/15/2027,Homeowners,1325.00,15%,198.75",
        "AM-1010,Lucas Martin,NBS,07/01/2026,07/01/2027,Commercial Auto,4200.00,12.5%,525.00",
        "AM-2001,Sofia Rossi,NBS,10/01/2026,10/01/2027,Personal Auto,720.00,15%,108.00",
        "AM-2002,Daniel Park,NBS,10/05/2026,10/05/2027,Homeowners,1010.00,15%,151.50",
        "AM-2003,Sofia Rossi,NBS,10/05/2026,10/05/2027,Umbrella,300.00,10%,30.00",
        ",Missing Number,NBS,10/07/2026,10/07/2027,Personal Auto,500.00,15%,75.00",
    ]
    return _csv(rows)


def second_statement_csv() -> str:
    return _csv([
        "Policy No;Insured Name;Transaction;Effective;Expiration;Line of Business;Written Premium;Commission Rate;Commission",
        "HP-501;Carlos Mendez;NEW;11/01/2026;11/01/2027;Homeowners;1450.00;12%;174.00",
        "HP-502;Priya Shah;NEW;11/03/2026;11/03/2027;Dwelling Fire;820.00;12%;98.40",
        "HP-503;Carlos Mendez;NEW;11/03/2026;11/03/2027;Personal Auto;990.00;12%;118.80",
        ";;;;;;;;",
        "HP-504;Ethan Cole;XYZ;13/45/2026;;Homeowners;n/a;12%;",
    ])


PRODUCERS_CSV = _csv([
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,Scorecard Type,Agent Type,CoCodes",
    "8800002,Dana,Whitfield,1234567,dana.whitfield@example.com,123-45-6789,Life & Health,CA;TX,License and Appointment,Producer,60054",
    "8800001,Avery,Nguyen,4455667,avery.nguyen@example.com,,Life & Health;Property & Casualty,TX;FL;GA,License,Producer,",
    "8800001,Jordan,Patel,5566778,,,,,,,",
    "8800003,Riley,Garcia,6677889,riley.garcia@example.com,987654321,Life & Health,CA,License and Appointment,Captive Agent,60054;60055",
    ",,,,,,,,,,",
    "9999999,Bad,Agency,7788990,,,,,,,",
    "8800001,Bad,Values,8899001,not-an-email,,Life & Health,CA; TX,License,Wizard,",
])

DEMO_COMPANY = {"name": "Prairie Life Assurance Company", "cocodes": "61999", "loa_categories": "Life & Health",
                "fein": "470000001"}
DEMO_COMPANY_STATES = [
    {"cocode": "61999", "state": "TX", "appoints": "true", "jit": "false", "company_license_id": "61999-TX",
     "effective_date": "2024-01-01", "source": "Carrier onboarding checklist (demo dataset)"},
    {"cocode": "61999", "state": "FL", "appoints": "true", "jit": "true", "company_license_id": "61999-FL",
     "effective_date": "2024-01-01", "source": "Carrier onboarding checklist (demo dataset)"},
]

USERS = [("avery", "service_team"), ("blake", "service_team"), ("casey", "underwriting"), ("devon", "underwriting"),
         ("emery", "renewals")]
JOB_TYPES = ["submission", "renewal", "policy_change", "cancellation", "reinstatement", "rewrite", "audit"]
ACTIVITY_SUBJECTS = ["Call back insured", "Collect signed application", "Review loss runs", "Send renewal quote",
                     "Verify driver list", "Follow up on audit"]


class DemoError(RuntimeError):
    pass


def run_coroutine(coro: Any) -> Any:
    """``asyncio.run``, in a thread of its own when this thread already runs an event loop (as it does
    under Playwright's sync API)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def _ok(r: httpx.Response, *allowed: int) -> httpx.Response:
    if r.status_code >= 400 and r.status_code not in allowed:
        raise DemoError(f"{r.request.method} {r.request.url} → {r.status_code}: {r.text[:500]}")
    return r


def upstream_events(now: datetime | None = None) -> list[Any]:
    """Upstream jobs and activities over the Team Screens windows (today, this week, this month)."""
    from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted, PolicyPeriod

    now = now or datetime.now(UTC)
    events: list[Any] = []
    for i in range(28):
        user, group = USERS[i % len(USERS)]
        job_type = JOB_TYPES[i % len(JOB_TYPES)]
        created = now - timedelta(hours=3 + 9 * i)
        closed = created + timedelta(hours=2) if i % 3 == 0 else None
        periods = [PolicyPeriod(model_number=1 if i % 4 == 0 else None, locked=i % 5 == 0,
                                status="non_renewed" if i % 10 == 5 else ("not_taken" if i % 10 == 0 else "bound"))]
        events.append(PolicyJobUpserted(job_id=f"DEMO-JOB-{i + 1:03d}", version=1, job_type=job_type,  # type: ignore[arg-type]
                                        assigned_user=user, assigned_group=group, create_time=created,
                                        close_date=closed, periods=periods))
    for i in range(24):
        user, group = USERS[(i + 2) % len(USERS)]
        status = "completed" if i % 3 == 0 else "open"
        target = now + timedelta(hours=-20 + 4 * i)
        events.append(ActivityUpserted(activity_id=f"DEMO-ACT-{i + 1:03d}", version=1,
                                       subject=ACTIVITY_SUBJECTS[i % len(ACTIVITY_SUBJECTS)], assigned_user=user,
                                       assigned_group=group, status=status, target_date=target,  # type: ignore[arg-type]
                                       close_date=now - timedelta(hours=1 + i % 5) if status == "completed" else None))
    return events


async def publish_upstream(bootstrap: str, payloads: list[Any], actor: str = "policy-admin") -> int:
    from agency_common.contracts.envelope import make_envelope
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        correlation = f"demo-{uuid.uuid4()}"
        for payload in payloads:
            env = make_envelope(payload, producer="demo-upstream", actor=actor, correlation_id=correlation)
            await producer.send(type(payload).topic, env.to_bytes(), key=payload.key().encode(),
                                headers=[(k, v.encode()) for k, v in env.headers().items()])
        await producer.flush()
    finally:
        await producer.stop()
    return len(payloads)


class DemoLoader:
    """Loads the demo dataset into running services. ``urls`` maps service name → base URL."""

    def __init__(self, urls: dict[str, str], token: str, bootstrap: str | None = None,
                 log: Callable[[str], None] = print, timeout: float = 60.0) -> None:
        self.urls = urls
        self.bootstrap = bootstrap
        self.log = log
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"}
        self.http = {name: httpx.Client(base_url=url, headers=headers, timeout=30.0) for name, url in urls.items()}

    def close(self) -> None:
        for client in self.http.values():
            client.close()

    # -- intake -----------------------------------------------------------------------------------
    def wait_imported(self, statement_id: str) -> dict[str, Any]:
        c = self.http["intake"]

        def done() -> dict[str, Any] | None:
            body = _ok(c.get(f"/api/statements/{statement_id}")).json()
            return body if body["status"] not in ("queued", "processing", "receiving") else None
        return _wait(done, self.timeout, f"statement {statement_id} imported")

    def load_intake(self) -> dict[str, Any]:
        c = self.http["intake"]
        for carrier in DEMO_CARRIERS:
            _ok(c.post("/api/carriers", json=carrier), 409)
        _ok(c.put(f"/api/carrier-profiles/{DEMO_CARRIER}", json={"prefixes": [], "bill_types": {"AUD": "audit"}}))
        _ok(c.put(f"/api/carrier-profiles/{SECOND_CARRIER}", json={"prefixes": ["HP"], "bill_types": {"NEW": "term_policy"}}))
        created = 0
        for number, client, lob, eff, premium in BOOK:
            start = date.fromisoformat(eff)
            r = _ok(c.post("/api/policies", json={
                "carrier": DEMO_CARRIER, "policy_number": number, "client_name": client, "line_of_business": lob,
                "effective_date": eff, "expiration_date": start.replace(year=start.year + 1).isoformat(),
                "estimated_premium": premium}), 409)
            created += r.status_code == 201
        # the CRM's details for some clients, and prospects with no policy yet
        for name, details in CRM_DETAILS.items():
            found = _ok(c.post("/api/individuals/search", json={"name": name.split()[-1], "limit": 5})).json()["items"]
            for ind in found:
                if f"{ind.get('first_name') or ''} {ind.get('last_name') or ''}".strip() == name:
                    _ok(c.patch(f"/api/individuals/{ind['id']}", json=details))
        for person in PROSPECTS:  # a retry after a failed first start creates nobody twice
            known = _ok(c.post("/api/individuals/search", json={
                "first_name": person["first_name"], "last_name": person["last_name"], "limit": 1})).json()["total"]
            if not known:
                _ok(c.post("/api/individuals", json=person))
        files = {"file": ("acme-statement-2026-10.csv", statement_csv().encode("utf-8-sig"), "text/csv")}
        st = _ok(c.post("/api/statements", files=files, data={"carrier": DEMO_CARRIER}), 409)
        if st.status_code == 409:
            statement_id = st.json()["first_import_id"]
        else:
            statement_id = st.json()["id"]
        body = self.wait_imported(statement_id)
        session: dict[str, Any] = {}
        if body["unmatched"]:
            session = _ok(c.post(f"/api/statements/{statement_id}/create-policies", json={
                "idempotency_key": f"demo-{statement_id}",
                "defaults": {"status": "active", "business_type": "New business", "branch": "Austin"}})).json()
        body = _ok(c.get(f"/api/statements/{statement_id}")).json()
        if body["status"] == "imported" and not body["unmatched"] and not body["ambiguous"]:
            _ok(c.post(f"/api/statements/{statement_id}/publish", json={"exclude_unmatched": True}), 409)
        files2 = {"file": ("harbor-2026-11.csv", second_statement_csv().encode("cp1252"), "text/csv")}
        st2 = _ok(c.post("/api/statements", files=files2, data={"carrier": SECOND_CARRIER}), 409)
        if st2.status_code != 409:
            self.wait_imported(st2.json()["id"])
        _ok(c.post("/api/saved-searches", json={"name": "Texas clients with Personal Auto",
                                                 "criteria": {"state": "TX", "policy_line_of_business": "Personal Auto"}}))
        return {"policies_created": created, "statement": statement_id, "statement_counts": {
            k: body[k] for k in ("total", "valid", "invalid", "blank", "matched", "unmatched")},
            "session_count": session.get("count", 0)}

    # -- appointments -----------------------------------------------------------------------------
    def load_appointments(self) -> dict[str, Any]:
        c = self.http["appointments"]
        _ok(c.post("/api/reference-data/companies/rows", json=[DEMO_COMPANY]), 422)
        _ok(c.post("/api/reference-data/company_state_settings/rows", json=DEMO_COMPANY_STATES), 422)
        parsed = _ok(c.post("/api/producer-imports",
                            files={"file": ("agents.csv", PRODUCERS_CSV.encode(), "text/csv")})).json()
        processed = _ok(c.post(f"/api/producer-imports/{parsed['id']}/process")).json()

        def synced() -> bool:
            producers = _ok(c.get("/api/producers")).json()["items"]
            wanted = {"1234567", "4455667"}
            return wanted <= {p["npn"] for p in producers if p.get("sync_status") != "pending"}
        try:
            _wait(synced, self.timeout, "producers synced with NIPR")
        except DemoError as exc:
            self.log(f"demo: {exc}; bulk appointment skipped")
            return {"producer_import": processed}
        appointed = _ok(c.post("/api/appointments/bulk", headers={"Idempotency-Key": "demo-bulk-appoint-1"}, json={
            "requests": [
                {"npn": "1234567", "states": ["CA", "TX", "FL"], "loa_category": "Life & Health",
                 "cocodes": ["60054"], "submit": True, "submitJustInTime": False},
                {"npn": "4455667", "states": ["TX", "FL", "GA"], "loa_category": "Life & Health",
                 "cocodes": ["60054"], "submit": True, "submitJustInTime": True},
                {"npn": "7788990", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["60054"]},
            ]}), 409).json()
        return {"producer_import": processed, "appointment_transactions": appointed.get("transactions", 0)}

    # -- reporting --------------------------------------------------------------------------------
    def load_reporting(self) -> dict[str, Any]:
        if not self.bootstrap:
            self.log("demo: no Kafka bootstrap servers given: upstream jobs and activities skipped")
            return {}
        events = upstream_events()
        run_coroutine(publish_upstream(self.bootstrap, events))
        c = self.http["reporting"]

        def ingested() -> bool:
            counts = {row["event_type"]: row["count"] for row in _ok(c.get("/api/operations/events")).json()}
            return (counts.get("upstream.policy-job.upserted", 0) >= 28
                    and counts.get("upstream.activity.upserted", 0) >= 24)
        _wait(ingested, self.timeout, "reporting ingested the upstream jobs and activities")
        snap = _ok(c.post("/api/team-screens/calculate"), 409).json()
        return {"upstream_events": len(events), "team_screens": snap.get("snapshot_id")}

    def load(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for name, step in (("intake", self.load_intake), ("appointments", self.load_appointments),
                           ("reporting", self.load_reporting)):
            if name not in self.http:
                continue
            summary[name] = step()
        return summary


def load_demo(urls: dict[str, str], token: str, bootstrap: str | None = None,
              log: Callable[[str], None] = print, timeout: float = 60.0) -> dict[str, Any]:
    """Load the demo dataset into the running services (``urls``: service name → base URL) as the
    user of ``token`` (an admin's: it touches every service). Returns what was loaded."""
    loader = DemoLoader(urls, token, bootstrap, log=log, timeout=timeout)
    try:
        return loader.load()
    finally:
        loader.close()


def token(url: str, username: str, password: str) -> str:
    r = _ok(httpx.post(f"{url}/api/auth/token", data={"username": username, "password": password}, timeout=30))
    return str(r.json()["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, port in (("intake", 8001), ("invoicing", 8002), ("appointments", 8003), ("reporting", 8004)):
        parser.add_argument(f"--{name}", default=f"http://127.0.0.1:{port}")
    parser.add_argument("--kafka", default=None, help="bootstrap servers (upstream events skipped without it)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    urls = {n: getattr(args, n) for n in ("intake", "invoicing", "appointments", "reporting")}
    print(load_demo(urls, token(urls["intake"], args.user, args.password), args.kafka))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


MARKER = "demo-data-loaded"


def load_on_first_start(data_dir: Path, urls: dict[str, str], admin_password: str, bootstrap: str | None,
                        setting: str | None = None) -> bool:
    """``make run``'s hook: load the demo dataset once, on the first start of an empty data folder
    (remembered by a marker file in it), unless ``AGENCY_DEMO_DATA=0``. A failure is reported, not
    fatal: the platform keeps running, and the next start tries again."""
    setting = os.environ.get("AGENCY_DEMO_DATA", "1") if setting is None else setting
    marker = data_dir / MARKER
    if setting.strip().lower() in ("0", "false", "no", "off") or marker.exists():
        return False
    print("loading the demo dataset (first start; AGENCY_DEMO_DATA=0 starts empty)...")
    try:
        summary = load_demo(urls, token(urls["intake"], "admin", admin_password), bootstrap)
    except Exception as exc:  # noqa: BLE001 - the platform runs without its demo data
        print(f"demo dataset not loaded: {type(exc).__name__}: {exc}")
        return False
    marker.write_text(json.dumps(summary, indent=2, default=str))
    print(f"demo dataset loaded (remembered in {marker})")
    return True
